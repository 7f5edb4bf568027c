CREATE TABLE "tool_calls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"caller" text NOT NULL,
	"agent_id" uuid NOT NULL,
	"instance_name" text,
	"method" text NOT NULL,
	"tool" text,
	"duration_ms" integer NOT NULL,
	"outcome" text NOT NULL,
	"error_code" integer,
	"bytes_in" integer NOT NULL,
	"bytes_out" integer NOT NULL,
	CONSTRAINT "tool_calls_outcome_check" CHECK (outcome in ('ok', 'tool_error', 'error', 'timeout', 'cancelled', 'refused', 'unavailable'))
);
--> statement-breakpoint
ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_role_check";--> statement-breakpoint
ALTER TABLE "agent_droplet_tools" ADD COLUMN "allowed_tools" jsonb;--> statement-breakpoint
ALTER TABLE "agent_droplet_tools" ADD COLUMN "denied_tools" jsonb;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "agent_id" uuid;--> statement-breakpoint
CREATE INDEX "tool_calls_agent_at_idx" ON "tool_calls" USING btree ("agent_id","at");--> statement-breakpoint
CREATE INDEX "tool_calls_at_idx" ON "tool_calls" USING btree ("at");--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_caller_agent_check" CHECK ((role = 'caller') = (agent_id is not null));--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_role_check" CHECK (role in ('caller', 'viewer', 'operator', 'admin'));--> statement-breakpoint
-- allowed_tools and denied_tools are spec: they join the generation bump's WHEN clause (see 0006).
DROP TRIGGER IF EXISTS agent_droplet_tools_generation_1_bump ON agent_droplet_tools;
--> statement-breakpoint
CREATE TRIGGER agent_droplet_tools_generation_1_bump BEFORE UPDATE ON agent_droplet_tools FOR EACH ROW
  WHEN (OLD.tool_catalog_id IS DISTINCT FROM NEW.tool_catalog_id
    OR OLD.instance_name IS DISTINCT FROM NEW.instance_name
    OR OLD.version IS DISTINCT FROM NEW.version
    OR OLD.config_details IS DISTINCT FROM NEW.config_details
    OR OLD.secret_refs IS DISTINCT FROM NEW.secret_refs
    OR OLD.desired_state IS DISTINCT FROM NEW.desired_state
    OR OLD.allowed_tools IS DISTINCT FROM NEW.allowed_tools
    OR OLD.denied_tools IS DISTINCT FROM NEW.denied_tools
    OR OLD.deletion_requested_at IS DISTINCT FROM NEW.deletion_requested_at)
  EXECUTE FUNCTION toolbelt_bump_generation();
