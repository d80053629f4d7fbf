/**
 * The alerting rules and dashboard in a real Prometheus at full scale (test/support/alerts.ts):
 * deploy/prometheus/rules.yml as shipped, in real minutes, with Prometheus scraping and evaluating
 * every 15 s, a common production interval (the rules' comments assume 15–30 s). The error-ratio
 * alert must fire within 2 minutes of the fault and resolve once its 5-minute window has passed the
 * last failure: about 8 minutes in all, which is why it runs here and not in `npm test`.
 */
import { alertScenario } from '../support/alerts.js';

alertScenario({ timeScale: 1, intervalSeconds: 15 });
