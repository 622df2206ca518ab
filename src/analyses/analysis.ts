/**
 * An analysis rides along the replay: it sees every event right after the platform model has, may
 * ask the model (which device and queue a handle is) or follow its chains (`platform.onChain`), and
 * writes rows into tables of its own that the store creates next to the core ones. Block latency
 * needs no analysis of its own (it is the spans table); the sound, GPU and cross-layer analyses are
 * analyses.
 */
import type { KvmJoin } from '../align/kvm.ts';
import type { GuestAlignment } from '../align/sources.ts';
import type { SourceInfo } from '../ingest/adapter.ts';
import type { Stats } from '../ingest/stats.ts';
import type { Event } from '../model/events.ts';
import type { Platform } from '../model/platform.ts';
import type { TableDecl } from '../perf/tables.ts';

export interface AnalysisContext {
  platform: Platform;
  stats: Stats;
  /** filled in as the sources are read */
  sources: SourceInfo[];
  /** guest traces aligned with their VM's host trace: clock and guest virtioN -> host device */
  alignments: GuestAlignment[];
  /** host KVM traces joined with their VMM's log (src/align/kvm.ts) */
  kvmJoins: KvmJoin[];
}

/** Where an analysis puts its rows: one writer per table it declared. */
export interface RowSink {
  add<Row>(table: TableDecl<Row>, row: Row): void;
}

export interface AnalysisRun {
  /** each event in replay order, right after the platform model replayed it (and called its chain
   *  hooks): what an analysis pairs with the model's chains arrives in the order the trace has it */
  onEvent(e: Event): void;
  /** end of input: write what is left */
  finish(): void;
}

export interface Analysis {
  name: string;
  tables: TableDecl<never>[];
  start(ctx: AnalysisContext, sink: RowSink): AnalysisRun;
}
