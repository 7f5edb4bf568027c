CREATE TABLE "gitops_objects" (
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"repo" text NOT NULL,
	"file" text NOT NULL,
	"commit" text NOT NULL,
	"status" text DEFAULT 'Synced' NOT NULL,
	"drift" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"synced_at" timestamp with time zone NOT NULL,
	CONSTRAINT "gitops_objects_kind_name_pk" PRIMARY KEY("kind","name"),
	CONSTRAINT "gitops_objects_status_check" CHECK (status in ('Synced', 'OutOfSync'))
);
--> statement-breakpoint
CREATE TABLE "gitops_requests" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"trigger" text NOT NULL,
	"delivery_id" text,
	"commit" text,
	"requested_by" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_id" bigint,
	CONSTRAINT "gitops_requests_trigger_check" CHECK (trigger in ('webhook', 'poll', 'manual'))
);
--> statement-breakpoint
CREATE TABLE "gitops_syncs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"trigger" text NOT NULL,
	"repo" text NOT NULL,
	"branch" text NOT NULL,
	"path" text NOT NULL,
	"commit" text,
	"author" text,
	"message" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone NOT NULL,
	"result" text NOT NULL,
	"changes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"problems" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error" text,
	"attempts" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "gitops_syncs_trigger_check" CHECK (trigger in ('webhook', 'poll', 'manual')),
	CONSTRAINT "gitops_syncs_result_check" CHECK (result in ('applied', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "gitops_requests_delivery_id_key" ON "gitops_requests" USING btree ("delivery_id");--> statement-breakpoint
CREATE INDEX "gitops_requests_pending_idx" ON "gitops_requests" USING btree ("id") WHERE sync_id is null;--> statement-breakpoint
CREATE INDEX "gitops_syncs_started_at_idx" ON "gitops_syncs" USING btree ("started_at");