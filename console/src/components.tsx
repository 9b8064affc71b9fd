import { age, when, words } from './format';
import type { Step } from './model';
import { linkTo } from './router';

/** A run or step status as a coloured badge. */
export function Status({ value }: { value: string }) {
  return <span class={`status status-${value.toLowerCase()}`}>{value.replace(/_/g, ' ').toLowerCase()}</span>;
}

/** A link to a run's detail page. */
export function RunLink({ id }: { id: string }) {
  return (
    <a {...linkTo(`/runs/${encodeURIComponent(id)}`)} class="mono">
      {id}
    </a>
  );
}

/** A run's steps with their attempts and last error. */
export function StepsTable({ steps }: { steps: readonly Step[] }) {
  return (
    <table class="steps">
      <thead>
        <tr>
          <th>Step</th>
          <th>Status</th>
          <th>Attempts</th>
          <th>Last error</th>
          <th>Finished</th>
        </tr>
      </thead>
      <tbody>
        {steps.map((step) => (
          <tr key={step.name} data-step={step.name}>
            <td>{words(step.name)}</td>
            <td>
              <Status value={step.status} />
            </td>
            <td class="num">{step.attempts}</td>
            <td>
              {step.error ? (
                <span>
                  <span class="tag">{step.error.class}</span> {step.error.message}
                  {step.error.system ? ` (${step.error.system.toUpperCase()})` : ''}
                </span>
              ) : (
                '—'
              )}
            </td>
            <td title={when(step.finishedAt)}>{step.finishedAt ? age(step.finishedAt) : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The step a run is on: the first that is not done. */
export function currentStep(steps: readonly Step[]): string {
  const step = steps.find((s) => s.status !== 'SUCCEEDED') ?? steps[steps.length - 1];
  return step ? words(step.name) : '—';
}
