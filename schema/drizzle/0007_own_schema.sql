-- toolbelt moves into its own schema (the connection's search_path: `toolbelt` unless
-- TOOLBELT_DB_SCHEMA says otherwise), so it can share a database with another application's
-- `public.agents`. A database migrated by an earlier toolbelt has everything of 0000–0006 in
-- `public` (its migrations table was moved already by the migrator, see migrate.ts): each of
-- those objects is moved here, with its rows, indexes, constraints, owned sequences and
-- triggers. An object is moved only when it is in `public` and not already in toolbelt's
-- schema, so on a fresh database (whose 0000–0006 ran in the schema) nothing in `public` —
-- another application's tables included — is touched.
DO $$
DECLARE
  target text := current_schema();
  name text;
BEGIN
  IF target IS NULL OR target = 'public' THEN
    RETURN;
  END IF;
  FOREACH name IN ARRAY ARRAY['agents', 'agent_droplets', 'agent_droplet_tools', 'tool_catalog', 'secrets',
      'droplet_credentials', 'events', 'leases', 'api_tokens', 'agent_sessions', 'agent_tool_observations', 'commands'] LOOP
    IF to_regclass(format('public.%I', name)) IS NOT NULL AND to_regclass(format('%I.%I', target, name)) IS NULL THEN
      EXECUTE format('ALTER TABLE public.%I SET SCHEMA %I', name, target);
    END IF;
  END LOOP;
  FOREACH name IN ARRAY ARRAY['toolbelt_stamp_update', 'toolbelt_bump_generation'] LOOP
    IF to_regprocedure(format('public.%I()', name)) IS NOT NULL
        AND to_regprocedure(format('%I.%I()', target, name)) IS NULL THEN
      EXECUTE format('ALTER FUNCTION public.%I() SET SCHEMA %I', name, target);
    END IF;
  END LOOP;
END
$$;
