import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { request } from '../api';
import { useConsole } from '../app';
import { RunLink, Status } from '../components';
import { money, when, words } from '../format';
import { navigate, useLocation } from '../router';

interface RunRef {
  id: string;
  flow: string;
  status: string;
  updatedAt: string;
  input: string;
}
type Money = { amount: string; currency: string };

interface Journey {
  id: string;
  name: string;
  stage: string;
  amount: Money | null;
  conversion: RunRef | null;
  account: {
    id: string;
    name: string;
    customer: { id: string; customerNumber: string; name: string } | null;
    syncRuns: RunRef[] | null;
  };
  project: {
    id: string;
    code: string;
    name: string;
    status: string;
    syncRuns: RunRef[] | null;
    billingLines:
      | { id: string; description: string; amount: Money; postingDate: string; invoice: { id: string } | null }[]
      | null;
    invoices:
      | {
          id: string;
          number: string;
          status: string;
          total: Money;
          balance: Money;
          payments: { id: string; amount: Money; receivedOn: string }[];
        }[]
      | null;
  } | null;
  crossReferences: { system: string; externalId: string; entityType: string }[] | null;
}

const RUN_REF = 'id flow status updatedAt input';
const JOURNEY_QUERY = `query ConsoleJourney($id: ID!) {
  opportunity(id: $id) {
    id name stage amount { amount currency }
    conversion { ${RUN_REF} }
    account { id name customer { id customerNumber name } syncRuns { ${RUN_REF} } }
    project {
      id code name status syncRuns { ${RUN_REF} }
      billingLines { id description amount { amount currency } postingDate invoice { id } }
      invoices { id number status total { amount currency } balance { amount currency }
        payments { id amount { amount currency } receivedOn } }
    }
    crossReferences { system externalId entityType }
  }
}`;

/** Finds the opportunity a search term is about: an opportunity, project or invoice ID, or a run or correlation ID. */
async function opportunityOf(
  session: ReturnType<typeof useConsole>['session'],
  term: string,
): Promise<{ opportunityId: string } | { problem: string }> {
  const failed = (errors: { message: string; extensions?: { code?: string } }[]) => ({
    problem: `${errors[0]?.extensions?.code ?? 'ERROR'}: ${errors[0]?.message ?? 'the search failed'}`,
  });
  if (/^OPP-/i.test(term)) return { opportunityId: term.toUpperCase() };
  if (/^PRJ-/i.test(term)) {
    const { data, errors } = await request<{ project: { opportunity: { id: string } | null } | null }>(
      session,
      'query ConsoleJourneyProject($id: ID!) { project(id: $id) { opportunity { id } } }',
      { id: term.toUpperCase() },
    );
    if (!data) return failed(errors);
    if (!data.project) return { problem: `The PSA has no project ${term}` };
    return data.project.opportunity
      ? { opportunityId: data.project.opportunity.id }
      : { problem: `Project ${term} was not sold through a CRM opportunity` };
  }
  if (/^INV-/i.test(term)) {
    const { data, errors } = await request<{
      invoice: { project: { opportunity: { id: string } | null } | null } | null;
    }>(session, 'query ConsoleJourneyInvoice($id: ID!) { invoice(id: $id) { project { opportunity { id } } } }', {
      id: term.toUpperCase(),
    });
    if (!data) return failed(errors);
    if (!data.invoice) return { problem: `The ERP has no invoice ${term}` };
    return data.invoice.project?.opportunity
      ? { opportunityId: data.invoice.project.opportunity.id }
      : { problem: `Invoice ${term} bills no project sold through a CRM opportunity` };
  }
  const { data, errors } = await request<{ trace: { opportunity: { id: string } | null } | null }>(
    session,
    'query ConsoleJourneyTrace($id: ID!) { trace(correlationId: $id) { opportunity { id } } }',
    { id: term },
  );
  if (!data) return failed(errors);
  if (!data.trace) return { problem: `No run has the ID or correlation ID ${term}` };
  return data.trace.opportunity
    ? { opportunityId: data.trace.opportunity.id }
    : { problem: `The run ${term} is not about a CRM opportunity` };
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** The newest run among `runs` matching `which`. */
function lastRun(runs: readonly (RunRef | null | undefined)[], which: (run: RunRef) => boolean): RunRef | null {
  return (
    runs.filter((r): r is RunRef => !!r && which(r)).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0] ?? null
  );
}

/** The journey of a deal: opportunity → project → ERP customer → billing lines → invoices → payments. */
export function JourneyPage() {
  const { session } = useConsole();
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const [term, setTerm] = useState(q);
  const [journey, setJourney] = useState<Journey | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    setTerm(q);
    setJourney(null);
    setProblem(null);
    if (!q) return;
    let cancelled = false;
    setLoading(true);
    (async () => {
      const found = await opportunityOf(session, q.trim());
      if ('problem' in found) {
        if (!cancelled) setProblem(found.problem);
        return;
      }
      const { data, errors } = await request<{ opportunity: Journey | null }>(session, JOURNEY_QUERY, {
        id: found.opportunityId,
      });
      if (cancelled) return;
      if (!data?.opportunity)
        setProblem(
          errors[0]
            ? `${errors[0].extensions?.code}: ${errors[0].message}`
            : `The CRM has no opportunity ${found.opportunityId}`,
        );
      else {
        setJourney(data.opportunity);
        // Partial answers (a system down) still show what the others know, with the errors named.
        if (errors.length) setProblem(errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; '));
      }
    })().finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [q]);
  return (
    <section class="page" aria-label="journey of a deal">
      <div class="page-head">
        <h1>Journey of a deal</h1>
      </div>
      <form
        class="search"
        aria-label="find a deal"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`/journey?q=${encodeURIComponent(term.trim())}`);
        }}
      >
        <input
          name="q"
          class="search-term"
          aria-label="opportunity, project, invoice, run or correlation ID"
          placeholder="OPP-…, PRJ-…, INV-…, RUN-… or a correlation ID"
          value={term}
          onInput={(e) => setTerm((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={term.trim() === ''}>
          Show journey
        </button>
      </form>
      {loading && <p>Loading…</p>}
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {journey && <JourneyView journey={journey} />}
    </section>
  );
}

function Hop({
  system,
  title,
  id,
  status,
  run,
  children,
}: {
  system: 'CRM' | 'PSA' | 'ERP';
  title: string;
  id: string | null;
  status?: string | null;
  run: RunRef | null;
  children?: ComponentChildren;
}) {
  return (
    <li class="hop" data-system={system} data-hop={title}>
      <div class="hop-head">
        <span class={`tag system sys-${system.toLowerCase()}`}>{system}</span>
        <strong>{title}</strong>
        <span class="mono" data-system-id={system}>
          {id ?? 'not yet'}
        </span>
        {status && <Status value={status} />}
      </div>
      <p class="meta">
        Last run:{' '}
        {run ? (
          <>
            <RunLink id={run.id} /> {words(run.flow)} <Status value={run.status} /> {when(run.updatedAt)}
          </>
        ) : (
          'none recorded'
        )}
      </p>
      {children}
    </li>
  );
}

function JourneyView({ journey }: { journey: Journey }) {
  const projectRuns = journey.project?.syncRuns ?? [];
  const accountRuns = journey.account.syncRuns ?? [];
  const allRuns = [...projectRuns, ...accountRuns, journey.conversion];
  const mentions = (id: string) => (run: RunRef) => run.input.includes(`"${id}"`);
  const invoices = journey.project?.invoices ?? [];
  const lines = journey.project?.billingLines ?? [];
  const payments = invoices.flatMap((i) => i.payments.map((p) => ({ ...p, invoice: i })));
  return (
    <ol class="journey" aria-label="journey">
      <Hop system="CRM" title="Opportunity" id={journey.id} status={journey.stage} run={journey.conversion}>
        <p>
          {journey.name} · {money(journey.amount)} · account {journey.account.name} ({journey.account.id})
        </p>
      </Hop>
      <Hop
        system="PSA"
        title="Project"
        id={journey.project?.id ?? null}
        status={journey.project?.status ?? null}
        run={lastRun(projectRuns, () => true)}
      >
        {journey.project && (
          <p>
            {journey.project.name} · code <span class="mono">{journey.project.code}</span>
          </p>
        )}
      </Hop>
      <Hop
        system="ERP"
        title="Customer"
        id={journey.account.customer?.id ?? null}
        run={lastRun(allRuns, (r) => r.flow === 'convertOpportunityToProject' || r.flow === 'syncCustomer')}
      >
        {journey.account.customer && (
          <p>
            {journey.account.customer.name} · customer number {journey.account.customer.customerNumber}
          </p>
        )}
      </Hop>
      <Hop
        system="ERP"
        title="Billing lines"
        id={lines.length ? plural(lines.length, 'line') : null}
        run={lastRun(projectRuns, (r) => r.flow === 'billApprovedTime')}
      >
        {lines.length > 0 && (
          <table class="compact">
            <tbody>
              {lines.slice(-10).map((l) => (
                <tr key={l.id}>
                  <td class="mono">{l.id}</td>
                  <td>{l.postingDate}</td>
                  <td>{l.description}</td>
                  <td class="num">{money(l.amount)}</td>
                  <td class="mono">{l.invoice?.id ?? 'not invoiced'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {lines.length > 10 && <p class="hint">The 10 latest of {lines.length}.</p>}
      </Hop>
      <Hop
        system="ERP"
        title="Invoices"
        id={invoices.length ? plural(invoices.length, 'invoice') : null}
        run={lastRun(allRuns, (r) => r.flow === 'billMilestone' || r.flow === 'syncInvoiceStatus')}
      >
        {invoices.length > 0 && (
          <table class="compact">
            <tbody>
              {invoices.map((i) => {
                const run = lastRun(allRuns, mentions(i.id));
                return (
                  <tr key={i.id}>
                    <td class="mono">{i.id}</td>
                    <td>{i.number}</td>
                    <td>
                      <Status value={i.status} />
                    </td>
                    <td class="num">{money(i.total)}</td>
                    <td class="num">balance {money(i.balance)}</td>
                    <td>{run ? <RunLink id={run.id} /> : 'no run'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Hop>
      <Hop
        system="ERP"
        title="Payments"
        id={payments.length ? plural(payments.length, 'payment') : null}
        run={lastRun(allRuns, (r) => r.flow === 'syncInvoiceStatus')}
      >
        {payments.length > 0 && (
          <table class="compact">
            <tbody>
              {payments.map((p) => (
                <tr key={p.id}>
                  <td class="mono">{p.id}</td>
                  <td>{p.receivedOn}</td>
                  <td class="num">{money(p.amount)}</td>
                  <td>on {p.invoice.number}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Hop>
      {journey.crossReferences && journey.crossReferences.length > 0 && (
        <li class="hop links">
          <strong>Registry links</strong>{' '}
          {journey.crossReferences.map((x) => (
            <span class="tag" key={`${x.system}-${x.externalId}`}>
              {x.system} {x.externalId}
            </span>
          ))}
        </li>
      )}
    </ol>
  );
}
