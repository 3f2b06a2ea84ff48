package io.holdfast.ops.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

/**
 * Three ZooKeeper servers run from the Debian package's jars ({@code QuorumPeerMain} with a zoo.cfg,
 * myid and data directory each), with the package's zoo.cfg timing (tickTime 2000, initLimit 10,
 * syncLimit 5) and the server's defaults otherwise (forceSync on); driven through Curator's
 * {@link InterProcessMutex}, one Curator client (so one ZooKeeper session) per bench client.
 */
final class ZooKeeperCluster extends PeerCluster {
  /** The classpath of Debian's launcher, as its /etc/zookeeper/conf/environment sets it. */
  static final String DEBIAN_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";

  private final String classpath;
  private final List<String> jvmFlags;
  private final List<String> clientAddresses = new ArrayList<>();

  ZooKeeperCluster(String classpath, List<String> jvmFlags, int members) throws IOException {
    super(members);
    this.classpath = classpath;
    this.jvmFlags = List.copyOf(jvmFlags);
  }

  /** The servers' own version line, read from their {@code srvr} answer once they are up. */
  private volatile String version = "(version not yet seen)";

  @Override
  String system() {
    return "ZooKeeper " + version;
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  @Override
  void start(PrintWriter err) throws Exception {
    int[] ports = freePorts(3 * members);
    StringBuilder servers = new StringBuilder();
    for (int i = 0; i < members; i++) {
      servers.append("server.").append(i + 1).append("=127.0.0.1:").append(ports[members + i]).append(':')
          .append(ports[2 * members + i]).append('\n');
      clientAddresses.add("127.0.0.1:" + ports[i]);
    }
    for (int i = 0; i < members; i++) {
      Path home = dir.resolve("zk" + (i + 1));
      Path data = home.resolve("data");
      Files.createDirectories(data);
      Files.writeString(data.resolve("myid"), (i + 1) + "\n");
      // Debian's zoo.cfg timing; the admin server is off only because three would share port 8080.
      Files.writeString(home.resolve("zoo.cfg"), "tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
          + "dataDir=" + data + "\nclientPort=" + ports[i] + "\nadmin.enableServer=false\n"
          + "4lw.commands.whitelist=srvr\n" + servers);
      List<String> command = new ArrayList<>(List.of(java()));
      command.addAll(jvmFlags);
      command.addAll(List.of("-cp", classpath, "-Dzookeeper.log.dir=" + home,
          "org.apache.zookeeper.server.quorum.QuorumPeerMain", home.resolve("zoo.cfg").toString()));
      launch(command, dir.resolve("zk" + (i + 1) + ".log"));
    }
    awaitQuorum(Duration.ofSeconds(60));
    err.println("ZooKeeper ensemble: " + connectString() + " (data " + dir + ")");
    err.flush();
  }

  /** Every server answers {@code srvr} as leader or follower: the ensemble has formed. */
  private void awaitQuorum(Duration within) throws Exception {
    long deadline = System.nanoTime() + within.toNanos();
    for (int i = 0; i < members; i++) {
      while (true) {
        String answer = srvr(clientAddresses.get(i));
        if (answer.contains("Mode: leader") || answer.contains("Mode: follower")) {
          answer.lines().filter(l -> l.startsWith("Zookeeper version:")).findFirst()
              .ifPresent(l -> version = l.substring("Zookeeper version:".length()).trim().split("[-,]")[0]);
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("ZooKeeper server " + (i + 1) + " not in a quorum within "
              + within.toSeconds() + " s (srvr said: " + answer.strip() + ")\n" + tail(dir.resolve("zk" + (i + 1) + ".log"), 15));
        }
        Thread.sleep(200);
      }
    }
  }

  /** The four-letter {@code srvr} command's answer, or "" while the server does not answer. */
  private static String srvr(String address) {
    String[] hp = address.split(":");
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])), 1_000);
      s.setSoTimeout(2_000);
      OutputStream out = s.getOutputStream();
      out.write("srvr".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  @Override
  String connectString() {
    return String.join(",", clientAddresses);
  }

  /** A started Curator client with its own session, once connected. */
  static CuratorFramework curator(String connectString, Duration sessionTimeout) throws InterruptedException {
    CuratorFramework c = CuratorFrameworkFactory.builder().connectString(connectString)
        .sessionTimeoutMs((int) sessionTimeout.toMillis())
        // Curator's 15 s connection timeout, but not above the session timeout (it warns otherwise).
        .connectionTimeoutMs((int) Math.min(15_000, sessionTimeout.toMillis()))
        .retryPolicy(new ExponentialBackoffRetry(1_000, 3)).build();
    c.start();
    if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
      c.close();
      throw new IllegalStateException("no ZooKeeper session within 30 s at " + connectString);
    }
    return c;
  }

  /** ZooKeeper paths are absolute; the bench's lock names are not. */
  static String path(String lockName) {
    return lockName.startsWith("/") ? lockName : "/" + lockName;
  }

  @Override
  PeerLockers lockers(int clients, int connections, Duration ttl) throws Exception {
    List<ZkLocker> lockers = new ArrayList<>();
    try {
      for (int c = 0; c < clients; c++) {
        lockers.add(new ZkLocker(curator(connectString(), ttl)));
      }
    } catch (Exception e) {
      lockers.forEach(ZkLocker::close);
      throw e;
    }
    return new PeerLockers() {
      @Override
      public Locker get(int c) {
        return lockers.get(c);
      }

      @Override
      public int connections() {
        return lockers.size();
      }

      @Override
      public void close() {
        lockers.forEach(ZkLocker::close);
      }
    };
  }

  /** An InterProcessMutex that lets the bench read its lock node, whose sequence is the token. */
  static final class Mutex extends InterProcessMutex {
    Mutex(CuratorFramework client, String path) {
      super(client, path);
    }

    long token() {
      String node = getLockPath();
      int i = node.length();
      while (i > 0 && Character.isDigit(node.charAt(i - 1))) {
        i--;
      }
      return Long.parseLong(node.substring(i));
    }
  }

  /**
   * Creates a lock's parent as a persistent node. Curator would create it as a container, which
   * ZooKeeper deletes once it is empty (checked every 60 s); re-created, its child sequence, the
   * token, starts again at 0, and in a run of more than a minute the token check failed.
   */
  static void persistentParent(CuratorFramework curator, String path) throws Exception {
    try {
      curator.create().creatingParentContainersIfNeeded().withMode(CreateMode.PERSISTENT).forPath(path);
    } catch (KeeperException.NodeExistsException alreadyThere) {
      // another bench client created it first
    }
  }

  /** One Curator client (one session), a mutex per lock name it has used. */
  static final class ZkLocker implements Locker {
    private final CuratorFramework curator;
    private final Map<String, Mutex> mutexes = new HashMap<>();
    private volatile boolean lost;
    private Mutex held;

    ZkLocker(CuratorFramework curator) {
      this.curator = curator;
      curator.getConnectionStateListenable().addListener((client, state) -> {
        if (state == ConnectionState.LOST) {
          lost = true;
        }
      });
    }

    @Override
    public long sessionId() {
      try {
        return curator.getZookeeperClient().getZooKeeper().getSessionId();
      } catch (Exception e) {
        return -1;
      }
    }

    @Override
    public long lock(String name) throws Exception {
      if (lost) {
        throw new Locker.SessionLostException("ZooKeeper session lost", null);
      }
      Mutex m = mutexes.get(name);
      if (m == null) {
        persistentParent(curator, path(name));
        m = new Mutex(curator, path(name));
        mutexes.put(name, m);
      }
      m.acquire();
      held = m;
      return m.token();
    }

    @Override
    public void unlock() throws Exception {
      Mutex m = held;
      held = null;
      m.release();
    }

    void close() {
      curator.close();
    }
  }
}
