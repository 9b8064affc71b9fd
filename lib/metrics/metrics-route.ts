import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, sendError, type Listening } from '../graphql-http';
import { metricsRegistry } from './metrics';

/** Serves the process's metrics in Prometheus text format on GET (a `Route` of `lib/graphql-http.ts`). */
export async function metricsRoute(_req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: string;
  try {
    body = await metricsRegistry.metrics();
  } catch {
    sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Metrics could not be collected');
    return;
  }
  res.statusCode = 200;
  res.setHeader('content-type', metricsRegistry.contentType);
  res.end(body);
}

/**
 * Serves `/metrics` alone on `port` (for a process without an HTTP server of its own, `METRICS_PORT`); any other path
 * gets 404. `close()` stops it.
 */
export function startMetricsServer(port: number, host = '127.0.0.1'): Promise<Listening> {
  return listen(
    (req, res) => {
      if ((req.url ?? '/').split('?')[0] === '/metrics') void metricsRoute(req, res);
      else sendError(res, 404, 'NOT_FOUND', 'Only /metrics is served here');
    },
    port,
    host,
  );
}
