CREATE TABLE "agent_droplet_tools" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_droplet_id" uuid NOT NULL,
	"tool_catalog_id" uuid NOT NULL,
	"instance_name" text NOT NULL,
	"version" text NOT NULL,
	"config_details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secret_refs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"desired_state" text DEFAULT 'running' NOT NULL,
	"deletion_requested_at" timestamp with time zone,
	"generation" bigint DEFAULT 1 NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"observed_generation" bigint DEFAULT 0 NOT NULL,
	"conditions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"endpoints" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"capabilities" jsonb,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_droplet_tools_status_check" CHECK (status in ('pending', 'pending_config', 'installing', 'installed', 'starting', 'running', 'active', 'stopping', 'stopped', 'uninstalling', 'error')),
	CONSTRAINT "agent_droplet_tools_desired_state_check" CHECK (desired_state in ('running', 'stopped'))
);
--> statement-breakpoint
CREATE TABLE "agent_droplets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"region" text NOT NULL,
	"size" text NOT NULL,
	"image" text DEFAULT 'ubuntu-24-04-x64' NOT NULL,
	"generation" bigint DEFAULT 1 NOT NULL,
	"droplet_id" bigint,
	"ip_address" text,
	"private_ip_address" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"observed_generation" bigint DEFAULT 0 NOT NULL,
	"conditions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"create_requested_at" timestamp with time zone,
	"last_heartbeat_at" timestamp with time zone,
	"agent_version" text,
	"host_metrics" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_droplets_status_check" CHECK (status in ('pending', 'creating', 'provisioning', 'active', 'unreachable', 'deleting', 'deleted', 'error'))
);
--> statement-breakpoint
CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"tool_environment_active" boolean DEFAULT false NOT NULL,
	"deletion_requested_at" timestamp with time zone,
	"generation" bigint DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agents_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "droplet_credentials" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_droplet_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "droplet_credentials_kind_check" CHECK (kind in ('enrollment', 'agent'))
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"reason" text NOT NULL,
	"message" text NOT NULL,
	"object_kind" text NOT NULL,
	"object_id" text NOT NULL,
	"fingerprint" text NOT NULL,
	"count" integer DEFAULT 1 NOT NULL,
	"first_seen" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen" timestamp with time zone DEFAULT now() NOT NULL,
	"reporter" text DEFAULT 'controller' NOT NULL,
	CONSTRAINT "events_type_check" CHECK (type in ('Normal', 'Warning'))
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"epoch" bigint DEFAULT 1 NOT NULL,
	"acquired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"renewed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "secrets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"name" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"backend" text DEFAULT 'local' NOT NULL,
	"key_id" text NOT NULL,
	"wrapped_key" "bytea",
	"ciphertext" "bytea",
	"vault_secret_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tool_catalog" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tool_name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"version_info" jsonb NOT NULL,
	"packaging_type" text NOT NULL,
	"package_identifier" text NOT NULL,
	"default_config_template" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"transport" text DEFAULT 'none' NOT NULL,
	"ports" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"health_check" jsonb,
	"generation" bigint DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tool_catalog_tool_name_unique" UNIQUE("tool_name"),
	CONSTRAINT "tool_catalog_packaging_type_check" CHECK (packaging_type in ('docker_image', 'npm_package')),
	CONSTRAINT "tool_catalog_transport_check" CHECK (transport in ('mcp-stdio', 'mcp-http', 'http', 'none'))
);
--> statement-breakpoint
ALTER TABLE "agent_droplet_tools" ADD CONSTRAINT "agent_droplet_tools_agent_droplet_id_agent_droplets_id_fk" FOREIGN KEY ("agent_droplet_id") REFERENCES "public"."agent_droplets"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_droplet_tools" ADD CONSTRAINT "agent_droplet_tools_tool_catalog_id_tool_catalog_id_fk" FOREIGN KEY ("tool_catalog_id") REFERENCES "public"."tool_catalog"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_droplets" ADD CONSTRAINT "agent_droplets_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "droplet_credentials" ADD CONSTRAINT "droplet_credentials_agent_droplet_id_agent_droplets_id_fk" FOREIGN KEY ("agent_droplet_id") REFERENCES "public"."agent_droplets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "secrets" ADD CONSTRAINT "secrets_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "agent_droplet_tools_instance_key" ON "agent_droplet_tools" USING btree ("agent_droplet_id","instance_name");--> statement-breakpoint
CREATE INDEX "agent_droplet_tools_catalog_idx" ON "agent_droplet_tools" USING btree ("tool_catalog_id");--> statement-breakpoint
CREATE UNIQUE INDEX "agent_droplets_agent_id_key" ON "agent_droplets" USING btree ("agent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "agent_droplets_droplet_id_key" ON "agent_droplets" USING btree ("droplet_id");--> statement-breakpoint
CREATE UNIQUE INDEX "droplet_credentials_token_hash_key" ON "droplet_credentials" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "droplet_credentials_droplet_idx" ON "droplet_credentials" USING btree ("agent_droplet_id");--> statement-breakpoint
CREATE UNIQUE INDEX "events_fingerprint_key" ON "events" USING btree ("fingerprint");--> statement-breakpoint
CREATE INDEX "events_object_idx" ON "events" USING btree ("object_kind","object_id","last_seen");--> statement-breakpoint
CREATE INDEX "events_last_seen_idx" ON "events" USING btree ("last_seen");--> statement-breakpoint
CREATE UNIQUE INDEX "secrets_agent_name_key" ON "secrets" USING btree ("agent_id","name");