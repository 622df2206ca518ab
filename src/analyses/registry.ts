/** Every analysis that rides along an ingest. */
import type { Analysis } from './analysis.ts';

export const ANALYSES: readonly Analysis[] = [];
