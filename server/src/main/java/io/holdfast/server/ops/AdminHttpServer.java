package io.holdfast.server.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.holdfast.server.api.AdminEndpoint;
import io.holdfast.server.config.HostPort;
import io.holdfast.server.config.SecurityConfig;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftNode;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.dropwizard.DropwizardExports;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The node's admin HTTP port: {@code /metrics} (Prometheus text, exported from the Dropwizard
 * registry by Prometheus's own bridge), {@code /livez} (the process and its Raft division run),
 * {@code /readyz} (a leader is known, the node has applied nearly all it committed, and a
 * linearizable read goes through; else 503 naming the failed check), {@code /status} (JSON), and the
 * operator's status page at {@code /} (with its data at {@code /api/overview}).
 */
public final class AdminHttpServer implements AutoCloseable {
  static final long MAX_READY_LAG = 1_000;
  static final long READY_CACHE_MS = 1_000;

  private final HttpServer http;
  private final RaftNode raft;
  private final PrometheusRegistry prometheus = new PrometheusRegistry();

  public AdminHttpServer(HostPort address, RaftNode raft, ServerMetrics metrics, ServerConfig config)
      throws IOException {
    this.raft = raft;
    StatusPage page = new StatusPage(config, raft);
    DropwizardExports.builder().dropwizardRegistry(metrics.registry())
        .metricFilter((name, metric) -> !GrpcMetrics.isGrpcMetric(name)).register(prometheus);
    prometheus.register(GrpcMetrics.collector(metrics.registry()));
    http = HttpServer.create(new InetSocketAddress(address.host(), address.port()), 16);
    http.setExecutor(Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "holdfast-admin-http");
      t.setDaemon(true);
      return t;
    }));
    http.createContext("/metrics", this::metrics);
    http.createContext("/livez", ex -> reply(ex, raft.isAlive() ? 200 : 503,
        raft.isAlive() ? "ok\n" : "failed: raft division is not running\n", "text/plain"));
    http.createContext("/readyz", this::readyz);
    http.createContext("/status", this::status);
    SecurityConfig.StatusPage audience = config.security().statusPage();
    http.createContext("/api/overview", ex -> {
      if (pageRefused(ex, audience)) {
        return;
      }
      reply(ex, 200, page.overview(), "application/json");
    });
    http.createContext("/", ex -> {
      if (!ex.getRequestURI().getPath().equals("/")) {
        reply(ex, 404, "not found\n", "text/plain");
        return;
      }
      if (pageRefused(ex, audience)) {
        return;
      }
      reply(ex, 200, new String(page.html(), StandardCharsets.UTF_8), "text/html; charset=utf-8");
    });
  }

  /** Answers a caller the status page is not for, saying which key decides; true if it did. */
  private static boolean pageRefused(HttpExchange ex, SecurityConfig.StatusPage audience) throws IOException {
    if (audience.serves(ex.getRemoteAddress() == null ? null : ex.getRemoteAddress().getAddress())) {
      return false;
    }
    if (audience == SecurityConfig.StatusPage.OFF) {
      reply(ex, 404, "the status page is off on this node (admin-status-page: off)\n", "text/plain");
    } else {
      reply(ex, 403, "the status page is served to callers on this node's host only (admin-status-page: local); "
          + "reach it through an SSH tunnel to the admin address, or set admin-status-page: open\n", "text/plain");
    }
    return true;
  }

  public AdminHttpServer start() {
    http.start();
    return this;
  }

  private void metrics(HttpExchange ex) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      new PrometheusTextFormatWriter(false).write(out, prometheus.scrape());
    } catch (RuntimeException e) {
      reply(ex, 500, "failed: metrics: " + e + "\n", "text/plain");
      return;
    }
    reply(ex, 200, out.toString(StandardCharsets.UTF_8), PrometheusTextFormatWriter.CONTENT_TYPE);
  }

  /** The first failed readiness check, or null. */
  String notReady() {
    if (!raft.isAlive()) {
      return "raft: the division is not running";
    }
    if (raft.leaderIdOrNull() == null) {
      return "leader: no leader is known";
    }
    long lag = raft.commitIndex() - raft.appliedIndex();
    if (lag > MAX_READY_LAG) {
      return "apply-lag: " + lag + " committed entries not applied yet";
    }
    try {
      raft.readBarrier().get(2, TimeUnit.SECONDS);
    } catch (Exception e) {
      return "linearizable-read: " + (e.getCause() != null ? e.getCause().getMessage() : e.toString());
    }
    return null;
  }

  /** The last readiness answer, and when it was worked out (System.nanoTime). */
  private record Readiness(String failed, long atNanos) {
  }

  private volatile Readiness lastReadiness;
  private final Semaphore readinessCheck = new Semaphore(1);

  /**
   * Readiness at most {@link #READY_CACHE_MS} old, worked out by one request at a time: a check can
   * wait 2 s for its read, and the port has two threads, so probers arriving together must not take
   * both from {@code /metrics}, the scrape that matters most during the incident that slows them.
   */
  String readiness() {
    Readiness last = lastReadiness;
    if (last != null && System.nanoTime() - last.atNanos() < TimeUnit.MILLISECONDS.toNanos(READY_CACHE_MS)) {
      return last.failed();
    }
    if (!readinessCheck.tryAcquire()) {
      return last != null ? last.failed() : "checking: another readiness check is running";
    }
    try {
      String failed = notReady();
      lastReadiness = new Readiness(failed, System.nanoTime());
      return failed;
    } finally {
      readinessCheck.release();
    }
  }

  private void readyz(HttpExchange ex) throws IOException {
    String failed = readiness();
    reply(ex, failed == null ? 200 : 503, failed == null ? "ok\n" : "failed: " + failed + "\n", "text/plain");
  }

  private void status(HttpExchange ex) throws IOException {
    String leader = raft.leaderIdOrNull();
    String json = "{\"member\":\"" + raft.nodeId() + "\",\"role\":\"" + raft.role() + "\",\"term\":" + raft.term()
        + ",\"commit_index\":" + raft.commitIndex() + ",\"applied_index\":" + raft.appliedIndex()
        + ",\"leader\":" + (leader == null ? "null" : "\"" + leader + "\"") + ",\"version\":\""
        + AdminEndpoint.VERSION + "\"}\n";
    reply(ex, 200, json, "application/json");
  }

  private static void reply(HttpExchange ex, int code, String body, String type) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(code, bytes.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(bytes);
    }
  }

  @Override
  public void close() {
    http.stop(0);
  }
}
