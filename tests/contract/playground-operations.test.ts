// The playground's default documents against schema.graphql: every tab opens with an operation the API runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kind, buildSchema, parse, validate, type OperationDefinitionNode } from 'graphql';
import { DEFAULT_TABS } from '../../web/playground/operations';

const schema = buildSchema(readFileSync(join(__dirname, '..', '..', 'schema.graphql'), 'utf8'));

/** The names of the operations a tab's document defines. */
function operationNames(query: string | null): (string | undefined)[] {
  return parse(query ?? '')
    .definitions.filter((node): node is OperationDefinitionNode => node.kind === Kind.OPERATION_DEFINITION)
    .map((operation) => operation.name?.value);
}

describe("the playground's default tabs", () => {
  it('show register, login, profile, logout and the two-step password reset, in that order', () => {
    expect(DEFAULT_TABS.map((tab) => operationNames(tab.query))).toEqual([
      ['Register'],
      ['Login'],
      ['Profile'],
      ['Logout'],
      ['RequestReset', 'Reset'],
    ]);
  });

  it.each(DEFAULT_TABS.map((tab) => [operationNames(tab.query).join(' + '), tab] as const))(
    '%s is valid against schema.graphql, and its example variables are JSON naming only declared variables',
    (_name, tab) => {
      const document = parse(tab.query ?? '');
      expect(validate(schema, document)).toEqual([]);
      const declared = document.definitions.flatMap((node) =>
        node.kind === Kind.OPERATION_DEFINITION
          ? (node.variableDefinitions ?? []).map((variable) => variable.variable.name.value)
          : [],
      );
      const variables = JSON.parse(tab.variables ?? '{}') as Record<string, unknown>;
      expect(Object.keys(variables).filter((name) => !declared.includes(name))).toEqual([]);
      // Every required variable has an example, so running a tab as it opens does not fail on a missing one.
      expect([...new Set(declared)].filter((name) => !(name in variables))).toEqual([]);
    },
  );
});
