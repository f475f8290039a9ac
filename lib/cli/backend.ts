// `convmixer backend`: which tfjs backend the suite uses on this machine, and why (what each candidate's status is).
import { parseFlags, type Command } from './args.ts';
import { BACKEND_CHOICES, backendChoiceFrom, chooseBackend, initBackend, probeNative, probeTensorflow } from '../backend/index.ts';
import { nativeKernelNames } from '../backend/native.ts';

const HELP = `usage: convmixer backend [--backend ${BACKEND_CHOICES.join('|')}] [--json]

Prints the backend the suite would use and why. Order of preference: tensorflow (a real @tensorflow/tfjs-node or
-node-gpu install) > native (this repo's C++ engine, build/Release/convmixer_native.node, registered on tfjs's cpu
backend) > cpu (tfjs's JS kernels). --backend or the CONVMIXER_BACKEND environment variable forces one.`;

export const command: Command = {
  summary: 'which tfjs backend the suite uses here, and why',
  async run(argv) {
    const { values, help } = parseFlags<{ backend?: string; json?: boolean }>(argv, { backend: { type: 'string' }, json: { type: 'boolean' } });
    if (help) {
      console.log(HELP);
      return 0;
    }
    const choice = backendChoiceFrom(values.backend);
    const probes = { tensorflow: probeTensorflow(), native: probeNative() };
    const { why } = chooseBackend(choice, probes);
    const info = await initBackend(values.backend);
    const replaced = info.name === 'native' ? nativeKernelNames() : [];
    if (values.json) {
      console.log(JSON.stringify({
        backend: info.name, description: info.description, choice, why,
        candidates: { tensorflow: { available: probes.tensorflow.available, detail: probes.tensorflow.detail }, native: { available: probes.native.available, detail: probes.native.detail }, cpu: { available: true, detail: 'tfjs JS kernels' } },
        nativeKernels: replaced,
      }, null, 2));
      return 0;
    }
    const mark = (ok: boolean): string => (ok ? 'available  ' : 'unavailable');
    console.log(`backend: ${info.description}`);
    console.log(`why: ${why}${values.backend !== undefined ? ' via --backend' : process.env.CONVMIXER_BACKEND ? ' via CONVMIXER_BACKEND' : ''}`);
    console.log('candidates (in order of preference):');
    console.log(`  tensorflow  ${mark(probes.tensorflow.available)}  ${probes.tensorflow.detail}`);
    console.log(`  native      ${mark(probes.native.available)}  ${probes.native.detail}`);
    console.log(`  cpu         ${mark(true)}  tfjs JS kernels`);
    if (replaced.length) console.log(`native kernels (${replaced.length}): ${replaced.join(', ')}`);
    return 0;
  },
};
