import { processSingleton } from "@plauder/runtime";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { getBus } from "./bus/index";
import { connectionCount } from "./server/connections";

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function createMetrics() {
  // A registry of our own on the process singleton: Next's bundled copy of this module and the
  // server's must count into the same place.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "plauder_process_" });
  return {
    registry,
    connections: new Gauge({
      name: "plauder_ws_connections",
      help: "Open WebSocket connections",
      registers: [registry],
      collect() {
        this.set(connectionCount());
      },
    }),
    subscriptions: new Gauge({
      name: "plauder_subscriptions",
      help: "Active subscriptions by procedure",
      labelNames: ["procedure"] as const,
      registers: [registry],
    }),
    messagesIn: new Counter({
      name: "plauder_ws_messages_in_total",
      help: "WebSocket messages received",
      registers: [registry],
    }),
    messagesOut: new Counter({
      name: "plauder_ws_messages_out_total",
      help: "Subscription events sent, by procedure",
      labelNames: ["procedure"] as const,
      registers: [registry],
    }),
    published: new Counter({
      name: "plauder_broadcasts_published_total",
      help: "Broadcasts stored by this instance",
      registers: [registry],
    }),
    channelPublished: new Counter({
      name: "plauder_channel_publications_total",
      help: "Channel publications stored by this instance, by kind (durable or ephemeral)",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    channelsActive: new Gauge({
      name: "plauder_channels_active",
      help: "Channels this instance listens to (has a subscriber for)",
      registers: [registry],
    }),
    publishDuration: new Histogram({
      name: "plauder_publish_duration_seconds",
      help: "Time to store and hand a broadcast to the bus",
      buckets: latencyBuckets,
      registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: "plauder_broadcast_delivery_latency_seconds",
      help: "From a broadcast's sentAt to its fan-out on this instance",
      buckets: latencyBuckets,
      registers: [registry],
    }),
    refusedUpgrades: new Counter({
      name: "plauder_ws_refused_upgrades_total",
      help: "WebSocket upgrades answered with an HTTP refusal, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    slowConsumers: new Counter({
      name: "plauder_ws_slow_consumer_closes_total",
      help: "Connections closed for not reading",
      registers: [registry],
    }),
    redisUp: new Gauge({
      name: "plauder_redis_up",
      help: "1 when the Redis bus is connected, 0 when it is down, -1 when not configured",
      registers: [registry],
      collect() {
        const state = getBus().state();
        this.set(state === "up" ? 1 : state === "down" ? 0 : -1);
      },
    }),
    tutorCacheLookups: new Counter({
      name: "plauder_tutor_cache_lookups_total",
      help: "Lookups in the tutor's cache of deterministic outputs, by kind (correction, scenario) and result (hit, miss)",
      labelNames: ["kind", "result"] as const,
      registers: [registry],
    }),
    tutorCacheHitRatio: new Gauge({
      name: "plauder_tutor_cache_hit_ratio",
      help: "Hits over lookups in the tutor's cache since this instance started, by kind",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    tutorGenerations: new Counter({
      name: "plauder_tutor_generations_total",
      help: "Tutor answers this instance ended, by status (complete, stopped, failed)",
      labelNames: ["status"] as const,
      registers: [registry],
    }),
    tutorStreams: new Gauge({
      name: "plauder_tutor_streams",
      help: "Tutor answers this instance is generating or holding in line",
      registers: [registry],
    }),
    tutorFirstToken: new Histogram({
      name: "plauder_tutor_first_token_seconds",
      help: "From a send to the answer's first piece published",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export function metrics(): Metrics {
  return processSingleton("metrics", createMetrics);
}
