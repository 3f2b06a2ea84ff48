package io.holdfast.server.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.holdfast.server.api.AdminEndpoint;
import io.holdfast.server.config.HostPort;
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
    http.createContext("/api/overview", ex -> reply(ex, 200, page.overview(), "application/json"));
    http.createContext("/", ex -> {
      if (!ex.getRequestURI().getPath().equals("/")) {
        reply(ex, 404, "not found\n", "text/plain");
        return;
      }
      reply(ex, 200, new String(page.html(), StandardCharsets.UTF_8), "text/html; charset=utf-8");
    });
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

  private void readyz(HttpExchange ex) throws IOException {
    String failed = notReady();
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
