// Paper Table 4 (Appendix B.1): tiny ConvMixers on CIFAR-10, by section, plus the two models that Appendix B names
// only in its text (ConvMixer-256/10 k3 and ConvMixer-256/24 k3). Rows that are the same run as another row (the
// kernel-9 row is Table 3's baseline, the patch-2 row is the kernel-9 row at patch 2) share it: the runner finds them
// by comparing recipes (runOwners in runner.ts).
import { APPENDIX_B_TEXT, TABLE4, type CifarRow } from '../paper/tables.ts';
import { PAPER_PROTOCOL, SMOKE_PROTOCOL, type ExperimentRow, type ExperimentTable } from './table.ts';
import { QUICK_CIFAR_PROTOCOL } from './protocol.ts';
import { WEIGHT_DECAY_P1, WEIGHT_DECAY_P2 } from './weightDecay.ts';

const GROUP: Record<string, string> = {
  'width and depth': 'width-depth', 'kernel adjustments': 'kernel-p1', 'patch adjustments': 'patch',
  'weight decay adjustments': 'wd-p1', 'kernel size adjustments at patch 2': 'kernel-p2', 'adding weight decay to the above': 'wd-p2',
};

function rowOf(r: CifarRow, index: number): ExperimentRow {
  const paper = { accuracy: r.accuracy, paramsK: r.paramsK, weightDecay: r.weightDecay };
  const label = `ConvMixer-${r.width}/${r.depth} p${r.patchSize} k${r.kernelSize}`;
  const group = GROUP[r.section]!;
  switch (group) {
    case 'width-depth': return { id: `w${r.width}-d${r.depth}`, label, group, model: r.model, paper };
    case 'kernel-p1':
      return { id: `k${r.kernelSize}-p1`, label, group, model: r.model, paper };
    case 'patch':
      return { id: `p${r.patchSize}-k9`, label, group, model: r.model, paper };
    case 'kernel-p2': return { id: `k${r.kernelSize}-p2`, label, group, model: r.model, paper };
    case 'wd-p1': {
      const k = index - TABLE4.findIndex((x) => x.section === r.section);
      const wd = WEIGHT_DECAY_P1.values[k]!;
      return { id: `wd${k + 1}-p1`, label: `${label}, wd ${wd}`, group, model: r.model, paper, recipe: { weightDecay: wd }, note: WEIGHT_DECAY_P1.note };
    }
    case 'wd-p2': {
      const wd = WEIGHT_DECAY_P2.value;
      return { id: `k${r.kernelSize}-p2-wd`, label: `${label}, wd ${wd}`, group, model: r.model, paper, recipe: { weightDecay: wd }, note: WEIGHT_DECAY_P2.note };
    }
    default: throw new Error(`table4: unknown section '${r.section}'`);
  }
}

const appendixRows: ExperimentRow[] = APPENDIX_B_TEXT.filter((r) => r.model !== 'convmixer_256_8').map((r) => ({
  id: r.model.replace('convmixer_', 'w').replace(/_(\d+)_k/, '-d$1-k'), label: `${r.quote} (Appendix B text)`, group: 'appendix-b-text', model: r.model,
  paper: r.accuracy === null ? null : { accuracy: r.accuracy, paramsK: r.paramsK },
}));

export const TABLE4_EXPERIMENT: ExperimentTable = {
  id: 'table4',
  title: 'Table 4: tiny ConvMixers on CIFAR-10 (and the two Appendix B text models)',
  source: 'paper Table 4 (Appendix B.1) and the Appendix B text',
  rows: [...TABLE4.map(rowOf), ...appendixRows],
  protocols: { smoke: SMOKE_PROTOCOL, quick: QUICK_CIFAR_PROTOCOL, paper: PAPER_PROTOCOL },
};
