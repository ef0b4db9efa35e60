// MikroORM CLI configuration (migration:create, migration:up, schema checks) from the same validated config as the app.
import 'reflect-metadata';
import { loadConfig } from './src/config';
import { ormOptions } from './src/database';

export default ormOptions(loadConfig());
