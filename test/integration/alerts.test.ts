/**
 * The alerting rules and dashboard in a real Prometheus, fast (test/support/alerts.ts): every
 * duration of deploy/prometheus/rules.yml divided by 6 (the 5-minute window is 50 s, `for: 1m` is
 * 10 s) and Prometheus scraping and evaluating every second, so the scenario takes about a minute
 * and a half. test/gateways/alerts.test.ts runs the same scenario at full scale.
 */
import { alertScenario } from '../support/alerts.js';

alertScenario({ timeScale: 6, intervalSeconds: 1 });
