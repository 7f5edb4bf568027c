ALTER TABLE "agents" ADD COLUMN "external_id" text;--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_external_id_unique" UNIQUE("external_id");--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_external_id_length_check" CHECK (char_length("agents"."external_id") between 1 and 128);