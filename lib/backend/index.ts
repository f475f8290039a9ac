// Backend choice, in one place: `tensorflow` (tfjs-node / tfjs-node-gpu, if installed) > native cpu (this repo's
// addon) > plain cpu (tfjs's JS kernels). Overridable with --backend or CONVMIXER_BACKEND.
// NOTE: placeholder until the native engine lands (issue 5); it always picks tfjs's plain cpu backend.
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow' | 'native' | 'cpu';

export interface BackendInfo {
  /** What run records print, e.g. 'native-cpu (avx2, 2 threads)' or 'cpu (tfjs JS kernels)'. */
  description: string;
  name: BackendName;
}

let current: BackendInfo | null = null;

export async function initBackend(choice: BackendName | 'auto' = (process.env.CONVMIXER_BACKEND as BackendName | undefined) ?? 'auto'): Promise<BackendInfo> {
  if (current && (choice === 'auto' || choice === current.name)) return current;
  await tf.setBackend('cpu');
  await tf.ready();
  current = { name: 'cpu', description: 'cpu (tfjs JS kernels)' };
  void choice;
  return current;
}
