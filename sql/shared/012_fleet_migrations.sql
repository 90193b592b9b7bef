-- Fleet migrations (worker/wk_fleet.c). quiz.tenant_migrations holds every tenant migration, on
-- each cluster: a tenant schema built there, by a worker of any version, gets all of them, so a
-- tenant created while a migration runs is born at the new version. Migrations are appended,
-- never changed; `contract` marks one that removes what an older serving version may still use
-- (run only when none does). quiz.tenants.schema_version is each tenant's last applied one (NULL:
-- not yet recorded), so a run finds the tenants to migrate in one query and a re-run over a
-- migrated fleet costs nothing; migration_error is why its last attempt failed.
CREATE TABLE quiz.tenant_migrations (
    version   text PRIMARY KEY CHECK (version ~ '^[0-9]{3,}_[a-z0-9_]+$'),
    sql       text NOT NULL,
    contract  boolean NOT NULL DEFAULT false,
    added_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE quiz.tenants ADD COLUMN schema_version text, ADD COLUMN migration_error text;
