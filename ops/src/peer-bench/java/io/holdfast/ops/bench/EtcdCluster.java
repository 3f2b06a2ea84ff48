package io.holdfast.ops.bench;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.support.CloseableClient;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Three etcd members (Debian's {@code etcd-server}) on free loopback ports, each with its own data
 * directory, with the server's defaults (fsync on); driven through jetcd's Lock API with one lease
 * per bench client, the leases spread over a few jetcd clients.
 */
final class EtcdCluster extends PeerCluster {
  private final String binary;
  private final List<String> clientUrls = new ArrayList<>();

  EtcdCluster(String binary, int members) throws IOException {
    super(members);
    this.binary = binary;
  }

  @Override
  String system() {
    try {
      Process p = new ProcessBuilder(binary, "--version").redirectErrorStream(true).start();
      String first = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().findFirst().orElse("");
      p.waitFor(10, TimeUnit.SECONDS);
      return "etcd " + first.replaceFirst("(?i)^etcd version:\\s*", "").trim();
    } catch (IOException | InterruptedException e) {
      return "etcd (version unknown: " + e.getMessage() + ")";
    }
  }

  @Override
  void start(PrintWriter err) throws Exception {
    int[] ports = freePorts(2 * members);
    StringBuilder initial = new StringBuilder();
    for (int i = 0; i < members; i++) {
      initial.append(i == 0 ? "" : ",").append("m").append(i + 1).append("=http://127.0.0.1:").append(ports[members + i]);
      clientUrls.add("http://127.0.0.1:" + ports[i]);
    }
    String token = "holdfast-peer-" + UUID.randomUUID();
    for (int i = 0; i < members; i++) {
      String peerUrl = "http://127.0.0.1:" + ports[members + i];
      launch(List.of(binary, "--name", "m" + (i + 1), "--data-dir", dir.resolve("m" + (i + 1)).toString(),
          "--listen-client-urls", clientUrls.get(i), "--advertise-client-urls", clientUrls.get(i),
          "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
          "--initial-cluster", initial.toString(), "--initial-cluster-token", token, "--initial-cluster-state", "new"),
          dir.resolve("m" + (i + 1) + ".log"));
    }
    awaitHealthy(Duration.ofSeconds(60));
    err.println("etcd cluster: " + String.join(",", clientUrls) + " (data " + dir + ")");
    err.flush();
  }

  /** Every member answers /health with true: it has a leader and serves reads. */
  private void awaitHealthy(Duration within) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + within.toNanos();
    for (int i = 0; i < members; i++) {
      while (true) {
        try {
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(clientUrls.get(i) + "/health"))
              .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
          if (r.statusCode() == 200 && r.body().contains("\"true\"")) {
            break;
          }
        } catch (IOException e) {
          // not listening yet
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("etcd member m" + (i + 1) + " not healthy within " + within.toSeconds() + " s\n"
              + tail(dir.resolve("m" + (i + 1) + ".log"), 15));
        }
        Thread.sleep(200);
      }
    }
  }

  @Override
  String connectString() {
    return String.join(",", clientUrls);
  }

  static Client client(String connectString) {
    return Client.builder().endpoints(connectString.split(",")).build();
  }

  @Override
  PeerLockers lockers(int clients, int connections, Duration ttl) throws Exception {
    List<Client> instances = new ArrayList<>();
    for (int i = 0; i < Math.min(connections, clients); i++) {
      instances.add(client(connectString()));
    }
    List<EtcdLocker> lockers = new ArrayList<>();
    try {
      for (int c = 0; c < clients; c++) {
        lockers.add(new EtcdLocker(instances.get(c % instances.size()), ttl));
      }
    } catch (Exception e) {
      lockers.forEach(EtcdLocker::close);
      instances.forEach(Client::close);
      throw e;
    }
    return new PeerLockers() {
      @Override
      public PeerLocker get(int c) {
        return lockers.get(c);
      }

      @Override
      public int connections() {
        return instances.size();
      }

      @Override
      public void close() {
        lockers.forEach(EtcdLocker::close);
        instances.forEach(Client::close);
      }
    };
  }

  /** A lease kept alive by jetcd, and the lock key the last lock() returned. */
  static final class EtcdLocker implements PeerLockers.PeerLocker {
    private final Client client;
    private final long leaseId;
    private final CloseableClient keepAlive;
    private volatile Throwable lost;
    private ByteSequence key;

    EtcdLocker(Client client, Duration ttl) throws Exception {
      this.client = client;
      this.leaseId = client.getLeaseClient().grant(ttl.toSeconds()).get(30, TimeUnit.SECONDS).getID();
      this.keepAlive = client.getLeaseClient().keepAlive(leaseId, new StreamObserver<LeaseKeepAliveResponse>() {
        @Override
        public void onNext(LeaseKeepAliveResponse r) {}

        @Override
        public void onError(Throwable t) {
          // jetcd ends the keepalive with an error when the lease has expired or is unknown
          lost = t;
        }

        @Override
        public void onCompleted() {}
      });
    }

    @Override
    public long sessionId() {
      return leaseId;
    }

    @Override
    public long lock(String name) throws Exception {
      checkAlive();
      try {
        var r = client.getLockClient().lock(ByteSequence.from(name, StandardCharsets.UTF_8), leaseId).get();
        key = r.getKey();
        // Each holder's response comes after the previous holder's delete, so its revision is higher.
        return r.getHeader().getRevision();
      } catch (ExecutionException e) {
        checkAlive();
        throw e;
      }
    }

    @Override
    public void unlock() throws Exception {
      client.getLockClient().unlock(key).get();
      key = null;
    }

    private void checkAlive() throws PeerLockers.SessionLostException {
      Throwable t = lost;
      if (t != null) {
        throw new PeerLockers.SessionLostException("lease " + Long.toHexString(leaseId) + " lost: " + t.getMessage(), t);
      }
    }

    void close() {
      keepAlive.close();
      try {
        client.getLeaseClient().revoke(leaseId).get(5, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // the lease expires by itself; the run is over
      }
    }
  }
}
