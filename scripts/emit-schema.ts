// Writes schema.graphql from the type-graphql resolvers; tests fail when the committed file drifts from the code.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAuthSchema, printAuthSchema } from '../src/graphql/schema';

async function emit(): Promise<void> {
  const path = join(__dirname, '..', 'schema.graphql');
  writeFileSync(path, printAuthSchema(await buildAuthSchema(null)));
  console.error(`wrote ${path}`);
}

void emit();
