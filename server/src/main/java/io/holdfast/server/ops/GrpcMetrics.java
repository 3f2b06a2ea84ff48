package io.holdfast.server.ops;

import com.codahale.metrics.MetricRegistry;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import com.codahale.metrics.Snapshot;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Quantile;
import io.prometheus.metrics.model.snapshots.Quantiles;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * gRPC requests by method and status code, latency by method, and open calls (streams included).
 * Dropwizard names carry the method and code as dotted segments; {@link #collector} turns them into
 * Prometheus labels.
 */
public final class GrpcMetrics implements ServerInterceptor {
  private final MetricRegistry registry;
  private final AtomicLong open = new AtomicLong();

  public GrpcMetrics(MetricRegistry registry) {
    this.registry = registry;
    registry.gauge("holdfast_grpc_open_calls", () -> open::get);
  }

  static final String REQUESTS = "holdfast.grpc.requests.";
  static final String LATENCY = "holdfast.grpc.latency.";

  /** Whether a Dropwizard metric is one of ours (exported with labels by {@link #collector}). */
  static boolean isGrpcMetric(String name) {
    return name.startsWith(REQUESTS) || name.startsWith(LATENCY);
  }

  /**
   * Exports the per-method metrics with method and code labels. (The Dropwizard bridge's label
   * mapper makes one snapshot per Dropwizard metric and so refuses several under one name.)
   */
  public static MultiCollector collector(MetricRegistry registry) {
    return () -> {
      CounterSnapshot.Builder requests = CounterSnapshot.builder().name("holdfast_grpc_requests")
          .help("gRPC requests by method and status code");
      registry.getCounters((n, m) -> n.startsWith(REQUESTS)).forEach((name, c) -> {
        String[] mc = name.substring(REQUESTS.length()).split("\\.", 2);
        requests.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
            .labels(Labels.of("method", mc[0], "code", mc.length > 1 ? mc[1] : "")).value(c.getCount()).build());
      });
      SummarySnapshot.Builder latency = SummarySnapshot.builder().name("holdfast_grpc_request_duration_seconds")
          .help("gRPC request latency by method");
      registry.getTimers((n, m) -> n.startsWith(LATENCY)).forEach((name, t) -> {
        Snapshot s = t.getSnapshot();
        double toSeconds = 1e-9;
        latency.dataPoint(SummarySnapshot.SummaryDataPointSnapshot.builder()
            .labels(Labels.of("method", name.substring(LATENCY.length())))
            .quantiles(Quantiles.of(new Quantile(0.5, s.getMedian() * toSeconds),
                new Quantile(0.99, s.get99thPercentile() * toSeconds)))
            .count(t.getCount()).build());
      });
      return new MetricSnapshots(List.of(requests.build(), latency.build()));
    };
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String full = call.getMethodDescriptor().getFullMethodName();
    String method = full.substring(full.lastIndexOf('.') + 1).replace('/', '_');
    long start = System.nanoTime();
    AtomicBoolean done = new AtomicBoolean();
    open.incrementAndGet();
    Runnable finish = () -> open.decrementAndGet();
    ServerCall<Q, R> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        if (done.compareAndSet(false, true)) {
          record(method, status.getCode().name(), start);
          finish.run();
        }
        super.close(status, trailers);
      }
    };
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(counted, headers)) {
      @Override
      public void onCancel() {
        if (done.compareAndSet(false, true)) {
          record(method, "CANCELLED", start);
          finish.run();
        }
        super.onCancel();
      }
    };
  }

  private void record(String method, String code, long startNanos) {
    registry.counter("holdfast.grpc.requests." + method + "." + code).inc();
    registry.timer("holdfast.grpc.latency." + method).update(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
  }
}
