CREATE TABLE "agent_sessions" (
	"agent_droplet_id" uuid PRIMARY KEY NOT NULL,
	"replica_id" text NOT NULL,
	"connection_id" text NOT NULL,
	"credential_id" uuid,
	"connected_at" timestamp with time zone NOT NULL,
	"disconnected_at" timestamp with time zone,
	"hello_at" timestamp with time zone,
	"agent_version" text,
	"protocol_version" integer,
	"hostname" text,
	"boot_id" text,
	"reported_droplet_id" bigint,
	"runtimes" jsonb DEFAULT '[]'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_tool_observations" (
	"agent_droplet_id" uuid NOT NULL,
	"tool_instance_id" text NOT NULL,
	"report" jsonb NOT NULL,
	"observed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "agent_tool_observations_agent_droplet_id_tool_instance_id_pk" PRIMARY KEY("agent_droplet_id","tool_instance_id")
);
--> statement-breakpoint
CREATE TABLE "commands" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_droplet_id" uuid NOT NULL,
	"command_type" text NOT NULL,
	"tool_instance_id" text,
	"generation" bigint,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"dedupe_key" text,
	"status" text DEFAULT 'queued' NOT NULL,
	"result" jsonb,
	"error_code" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"sent_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"deadline" timestamp with time zone NOT NULL,
	CONSTRAINT "commands_status_check" CHECK (status in ('queued', 'sent', 'accepted', 'done', 'failed', 'timed_out'))
);
--> statement-breakpoint
ALTER TABLE "agent_sessions" ADD CONSTRAINT "agent_sessions_agent_droplet_id_agent_droplets_id_fk" FOREIGN KEY ("agent_droplet_id") REFERENCES "public"."agent_droplets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_tool_observations" ADD CONSTRAINT "agent_tool_observations_agent_droplet_id_agent_droplets_id_fk" FOREIGN KEY ("agent_droplet_id") REFERENCES "public"."agent_droplets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_agent_droplet_id_agent_droplets_id_fk" FOREIGN KEY ("agent_droplet_id") REFERENCES "public"."agent_droplets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "commands_droplet_status_idx" ON "commands" USING btree ("agent_droplet_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "commands_open_dedupe_key" ON "commands" USING btree ("agent_droplet_id","dedupe_key") WHERE status in ('queued', 'sent', 'accepted');--> statement-breakpoint
CREATE INDEX "commands_open_deadline_idx" ON "commands" USING btree ("deadline") WHERE status in ('queued', 'sent', 'accepted');--> statement-breakpoint
CREATE INDEX "commands_finished_idx" ON "commands" USING btree ("finished_at");