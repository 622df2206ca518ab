/** Every analysis that rides along an ingest. */
import type { Analysis } from './analysis.ts';
import { soundAnalysis } from './sound/index.ts';
import { alignmentAnalysis } from './alignment.ts';
import { xlayerAnalysis } from './xlayer/index.ts';
import { gpuAnalysis } from './gpu/index.ts';
import { kvmAnalysis } from './kvm/index.ts';

export const ANALYSES: readonly Analysis[] = [soundAnalysis, alignmentAnalysis, xlayerAnalysis, gpuAnalysis, kvmAnalysis];
