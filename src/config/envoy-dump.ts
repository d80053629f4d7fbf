/**
 * A running Envoy's `/config_dump` in the shape check-envoy reads (config/envoy-check.ts): its
 * listeners and clusters, static or delivered by xDS, as `static_resources`, with each HTTP
 * connection manager's RDS route configuration put in place of its `rds` reference. So the pair
 * can be checked as it runs — including configs an Istio or Envoy Gateway control plane wrote.
 */
import { isObj, list, obj, objects, type Obj } from './yaml-walk.js';

export function configDumpAsStatic(dump: unknown): { static_resources: { listeners: Obj[]; clusters: Obj[] } } {
  const configs = list(obj(dump).configs).map(obj);
  const section = (type: string): Obj => configs.find((c) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${type}`) ?? {};
  const listeners = section('ListenersConfigDump');
  const clusters = section('ClustersConfigDump');
  const routes = section('RoutesConfigDump');
  const routeConfigs = new Map<string, Obj>();
  for (const r of [...list(routes.static_route_configs), ...list(routes.dynamic_route_configs)]) {
    const config = obj(obj(r).route_config);
    if (typeof config.name === 'string') routeConfigs.set(config.name, config);
  }
  const out = {
    static_resources: {
      listeners: [...list(listeners.static_listeners).map((l) => obj(l).listener), ...list(listeners.dynamic_listeners).map((l) => obj(obj(l).active_state).listener)].filter(isObj),
      clusters: [...list(clusters.static_clusters), ...list(clusters.dynamic_active_clusters)].map((c) => obj(c).cluster).filter(isObj),
    },
  };
  for (const { value: node } of objects(out.static_resources.listeners)) {
    const name = obj(node.rds).route_config_name;
    const config = typeof name === 'string' ? routeConfigs.get(name) : undefined;
    if (config !== undefined) {
      node.route_config = config;
      delete node.rds;
    }
  }
  return out;
}
