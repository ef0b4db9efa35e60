// PostgreSQL: the shared table of rate-limit counters, in the shape rate-limiter-flexible's RateLimiterPostgres uses.
import { Migration } from '@mikro-orm/migrations';

/**
 * Creates `rate_limits`: one row per limited key (prefixed by limiter), its points and its expiry in epoch
 * milliseconds. Instances behind one load balancer count in it together. The library's own expiry sweep deletes
 * old rows; the expiry index keeps that sweep from scanning the table.
 */
export class Migration20261127130000 extends Migration {
  override up(): Promise<void> {
    this.addSql(
      'create table "rate_limits" ("key" varchar(255) primary key, "points" integer not null default 0, "expire" bigint);',
    );
    this.addSql('create index "rate_limits_expire_index" on "rate_limits" ("expire");');
    return Promise.resolve();
  }
}
