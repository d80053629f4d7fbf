/**
 * The alerting rules and dashboard in a real Prometheus at full scale (test/support/alerts.ts):
 * deploy/prometheus/rules.yml as shipped, in real minutes, with Prometheus scraping and evaluating
 * every 15 s, a common production interval (the rules' comments assume 15–30 s). The error-ratio
 * alert must fire within 2 minutes of the fault (90–100 s here) and resolve after recovery, at the
 * latest once its 5-minute window has passed the last failure: 3 minutes in all, up to 8 when
 * resolving takes its longest, which is why it runs here and not in `npm test`.
 */
import { alertScenario } from '../support/alerts.js';

alertScenario({ timeScale: 1, intervalSeconds: 15 });
