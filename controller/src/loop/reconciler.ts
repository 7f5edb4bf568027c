/**
 * The reconcile contract, as the loop sees it. It is defined in `@toolbelt/reconcilers`
 * (reconcilers may import only `schema`, never `controller`); this module re-exports it so
 * that the loop's readers find it beside the code that runs it.
 */
export type {
  EventRecorder,
  Fence,
  ObjectRef,
  ReconcileContext,
  ReconcileLogger,
  Reconciler,
  ReconcileResult,
} from '@toolbelt/reconcilers';
export { TerminalError } from '@toolbelt/reconcilers';
export { FencedError } from '@toolbelt/schema';
