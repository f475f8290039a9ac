// Public API of the suite's library, used by the CLI and the notebooks.
export * from './errors.ts';
export * from './io.ts';
export * from './runRecord.ts';
export * from './backend/index.ts';
export * from './models/convmixer.ts';
export * from './models/ops.ts';
export * from './models/safetensors.ts';
export * from './models/weights.ts';
export * from './paper/tables.ts';
export * from './data/classNames.ts';
export * from './report/plots.ts';
export * from './report/tables.ts';
export * from './report/overview.ts';
export * from './report/architecture.ts';
