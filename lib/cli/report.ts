// `convmixer report` (= `npm run report`): run every notebook at the profile whose run records exist (nothing is
// retrained unless --rerun), then render reports/index.html; optionally check it in headless Chromium.
import { choiceFlag, parseFlags, type Command } from './args.ts';
import { UserError } from '../errors.ts';
import { gitState, loadRunRecords, PROFILES, RESULTS_DIR, type SkippedRecord } from '../runRecord.ts';
import { profileWithRecords } from '../views/overview.ts';
import { listNotebooks, NOTEBOOKS_DIR, REPORTS_DIR } from '../notebooks/paths.ts';
import { renderReport } from '../report/render.ts';
import { runNotebooks } from '../notebooks/run.ts';
import { join, relative, resolve } from 'node:path';
import { stopOnSignals } from './interrupt.ts';
import { existingDir, underFlag, writableDir } from '../io.ts';

const USAGE = `usage: convmixer report [--profile P] [--rerun] [--no-run] [--check] [--screenshots] [--out DIR]

Runs notebooks/*.ipynb with the tslab kernel at the profile whose run records exist (the most thorough of
paper > quick > smoke with finished records; --profile to choose) and renders the static HTML report.
  --profile P     run the notebooks at profile P (${PROFILES.join('|')})
  --rerun         pass rerun=true to notebooks that declare it (they re-run their experiment)
  --no-run        only render the notebooks' stored outputs
  --check         open the rendered report in headless Chromium; fail on unreachable pages, broken links,
                  console errors, or figures not drawn
  --screenshots   with the check, save a screenshot of every page to reports/screenshots/
  --out DIR       output folder (default reports/)
  --results-dir DIR  with --no-run: the run records to check (default reports/results; the notebooks
                  always read reports/results)

Run records that are not valid (unreadable, not JSON, missing fields) are skipped: one line each, and they
are listed on the index page.`;

export const command: Command = {
  summary: 'run notebooks from shipped run records and render reports/index.html',
  async run(argv) {
    const { values, help } = parseFlags<{ profile?: string; rerun?: boolean; 'no-run'?: boolean; check?: boolean; screenshots?: boolean; out?: string; 'results-dir'?: string }>(argv, {
      profile: { type: 'string' },
      rerun: { type: 'boolean' },
      'no-run': { type: 'boolean' },
      check: { type: 'boolean' },
      screenshots: { type: 'boolean' },
      out: { type: 'string' },
      'results-dir': { type: 'string' },
    });
    if (help) {
      console.log(USAGE);
      return 0;
    }
    const requestedProfile = choiceFlag('profile', values.profile, PROFILES);
    const notebooks = listNotebooks();
    if (notebooks.length === 0) throw new UserError(`no notebooks in ${NOTEBOOKS_DIR}`);
    const outDir = values.out ?? REPORTS_DIR;
    const started = Date.now();
    // Read before any notebook stores its outputs (which dirties the tree); recorded in every notebook and the index.
    const git = gitState();
    if (values['results-dir'] !== undefined && !values['no-run']) throw new UserError('--results-dir needs --no-run (the notebooks read reports/results)');
    const resultsDir = values['results-dir'] !== undefined ? resolve(values['results-dir']) : RESULTS_DIR;
    // An explicit --results-dir must be an existing folder (a typo would otherwise render a report of no records).
    if (values['results-dir'] !== undefined) existingDir(resultsDir, '--results-dir', 'the folder of run records');
    writableDir(outDir, '--out');
    // Invalid records are named once here and on the index page, not warned about by every notebook.
    const skipped: SkippedRecord[] = [];
    const records = loadRunRecords({}, resultsDir, skipped);
    for (const s of skipped) console.error(`report: skipped ${relative(process.cwd(), s.file)}: not a valid run record (${s.reason})`);
    const skippedShown = skipped.map((s) => ({ ...s, file: relative(resultsDir, s.file) }));

    if (!values['no-run']) {
      const profile = requestedProfile ?? profileWithRecords(records);
      console.error(`report: profile ${profile}${values.profile ? '' : ' (from the run records present)'}`);
      const params = { profile, ...(values.rerun ? { rerun: true } : {}) };
      // A knob no notebook declares (rerun, for notebooks that train nothing) is simply not passed.
      const stop = stopOnSignals('nothing is rendered', 'shutting down the kernel');
      const results = await runNotebooks(notebooks, { params, allowUnused: true, git, signal: stop.signal }).finally(() => stop.dispose());
      if (!results.every((r) => r.ok)) {
        // Render anyway so the failing cell can be read in the report, but exit non-zero.
        underFlag('--out', outDir, () => renderReport(notebooks, outDir, { git, skipped: skippedShown }));
        console.error(`report: a notebook failed; rendered what there is to ${relative(process.cwd(), join(outDir, 'index.html'))}`);
        return 1;
      }
    }
    const rendered = underFlag('--out', outDir, () => renderReport(notebooks, outDir, { git, skipped: skippedShown }));
    console.log(`report: ${relative(process.cwd(), rendered.index)} (${rendered.pages.length} notebook pages) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    if (values.check || values.screenshots) {
      const { browserProblems, checkReportInBrowser, chromiumAvailable, CHROMIUM_PATH } = await import('../report/browser.ts');
      if (!chromiumAvailable()) throw new UserError(`--check: no Chromium at ${CHROMIUM_PATH} (install Debian's chromium or set CHROMIUM_PATH)`);
      const expectedPages = rendered.pages.map((p) => ({ href: p.href, figures: p.figures }));
      const check = await checkReportInBrowser(rendered.index, { expectedPages, screenshotsDir: values.screenshots ? join(outDir, 'screenshots') : undefined });
      const problems = browserProblems(check);
      const drawn = [check.index, ...check.pages].reduce((n, p) => n + p.figures.filter((f) => f.traces > 0).length, 0);
      const expectedFigures = rendered.pages.reduce((n, p) => n + p.figures, 0);
      console.log(`report: browser check: ${expectedPages.length - check.unreachable.length} of ${expectedPages.length} notebook pages reached from the index, ` +
        `${drawn} of ${expectedFigures} plotly figures drawn, ${problems.length} problems`);
      for (const p of problems) console.error(`  ${p}`);
      if (values.screenshots) console.log(`report: screenshots in ${relative(process.cwd(), join(outDir, 'screenshots'))}/`);
      if (problems.length > 0) return 1;
    }
    return 0;
  },
};
