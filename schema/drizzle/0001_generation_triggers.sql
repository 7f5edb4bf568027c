-- Spec/status discipline in the database itself: every update stamps updated_at, and
-- generation is bumped when (and only when) one of the spec columns named in the trigger's
-- arguments changes. Status writers cannot move generation, whatever they send.
CREATE OR REPLACE FUNCTION toolbelt_bump_generation() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  col text;
  new_row jsonb := to_jsonb(NEW);
  old_row jsonb := to_jsonb(OLD);
  changed boolean := false;
BEGIN
  FOREACH col IN ARRAY TG_ARGV LOOP
    IF (new_row -> col) IS DISTINCT FROM (old_row -> col) THEN
      changed := true;
      EXIT;
    END IF;
  END LOOP;
  NEW.generation := OLD.generation + (CASE WHEN changed THEN 1 ELSE 0 END);
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER agents_generation BEFORE UPDATE ON agents FOR EACH ROW
  EXECUTE FUNCTION toolbelt_bump_generation('name', 'description', 'tool_environment_active', 'deletion_requested_at');
--> statement-breakpoint
CREATE TRIGGER agent_droplets_generation BEFORE UPDATE ON agent_droplets FOR EACH ROW
  EXECUTE FUNCTION toolbelt_bump_generation('region', 'size', 'image');
--> statement-breakpoint
CREATE TRIGGER tool_catalog_generation BEFORE UPDATE ON tool_catalog FOR EACH ROW
  EXECUTE FUNCTION toolbelt_bump_generation('tool_name', 'description', 'version_info', 'packaging_type',
    'package_identifier', 'default_config_template', 'transport', 'ports', 'health_check');
--> statement-breakpoint
CREATE TRIGGER agent_droplet_tools_generation BEFORE UPDATE ON agent_droplet_tools FOR EACH ROW
  EXECUTE FUNCTION toolbelt_bump_generation('tool_catalog_id', 'instance_name', 'version', 'config_details',
    'secret_refs', 'desired_state', 'deletion_requested_at');
