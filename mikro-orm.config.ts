// MikroORM CLI configuration (migration:create, migration:up, schema checks) from the same validated config as the app.
import 'reflect-metadata';
import { loadConfig } from './src/config';
import { ormOptions } from './src/database';

/** The options the MikroORM CLI uses: the app's own, from the same environment variables. */
export default ormOptions(loadConfig());
