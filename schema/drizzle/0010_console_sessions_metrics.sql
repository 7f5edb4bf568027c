CREATE TABLE "console_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_hash" text NOT NULL,
	"token_id" uuid NOT NULL,
	"csrf_token" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "host_metric_points" (
	"agent_droplet_id" uuid NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"metrics" jsonb NOT NULL,
	CONSTRAINT "host_metric_points_agent_droplet_id_minute_pk" PRIMARY KEY("agent_droplet_id","minute")
);
--> statement-breakpoint
ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_token_id_api_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."api_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "host_metric_points" ADD CONSTRAINT "host_metric_points_agent_droplet_id_agent_droplets_id_fk" FOREIGN KEY ("agent_droplet_id") REFERENCES "public"."agent_droplets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "console_sessions_session_hash_key" ON "console_sessions" USING btree ("session_hash");--> statement-breakpoint
CREATE INDEX "console_sessions_expires_at_idx" ON "console_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "host_metric_points_minute_idx" ON "host_metric_points" USING btree ("minute");