package io.holdfast.chaos;

import com.codahale.metrics.MetricRegistry;
import io.grpc.ServerInterceptor;
import io.holdfast.server.HoldfastServer;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A deliberately broken Holdfast node, for proving that the chaos checkers catch a broken build:
 * the real server with one fault wired in front of its services (test code only; the server's
 * main code has just the seam, {@code HoldfastServer(config, registry, innermost interceptors)}).
 * {@code ChaosRunTest} picks one with {@code -Dchaos.fault=<name>}; each fault has its own main
 * class below, since {@code ProcessCluster} passes a node nothing but its config.
 */
public final class FaultyServerMain {
  /** The faults; {@link #main} is the class name a node is started with. */
  public enum Fault {
    /** Every grant hands out one frozen token, so the fence never advances. */
    SKIP_FENCING("skip-fencing", SkipFencing.class),
    /** Keepalives are acknowledged by the front door and never reach the session clock. */
    ACK_WITHOUT_COMMIT("ack-without-commit", AckWithoutCommit.class),
    /** An acquire takes a lock that another live session holds. */
    GRANT_WITHOUT_HOLDER_CHECK("grant-without-holder-check", GrantWithoutHolderCheck.class);

    final String label;
    final Class<?> main;

    Fault(String label, Class<?> main) {
      this.label = label;
      this.main = main;
    }

    public String mainClass() {
      return main.getName();
    }

    public static Fault byLabel(String label) {
      for (Fault f : values()) {
        if (f.label.equals(label)) {
          return f;
        }
      }
      throw new IllegalArgumentException("unknown chaos.fault '" + label + "'; known: "
          + java.util.Arrays.stream(values()).map(f -> f.label).toList());
    }
  }

  private FaultyServerMain() {}

  public static final class SkipFencing {
    public static void main(String[] args) throws Exception {
      run(Fault.SKIP_FENCING, args);
    }
  }

  public static final class AckWithoutCommit {
    public static void main(String[] args) throws Exception {
      run(Fault.ACK_WITHOUT_COMMIT, args);
    }
  }

  public static final class GrantWithoutHolderCheck {
    public static void main(String[] args) throws Exception {
      run(Fault.GRANT_WITHOUT_HOLDER_CHECK, args);
    }
  }

  static void run(Fault fault, String[] args) throws Exception {
    // (The common pool floor too, as the real main: the chaos runs measure unavailability.)
    ServerConfig config = io.holdfast.server.testing.TestMains.setUp(args);
    AtomicReference<HoldfastStateMachine> state = new AtomicReference<>();
    ServerInterceptor broken = switch (fault) {
      case SKIP_FENCING -> new SkipFencingInterceptor(state::get);
      case ACK_WITHOUT_COMMIT -> new AckWithoutCommitInterceptor();
      case GRANT_WITHOUT_HOLDER_CHECK -> new GrantWithoutHolderCheckInterceptor(state::get,
          config.self().clientAddress().host() + ":" + config.self().clientAddress().port());
    };
    System.err.println("DELIBERATELY BROKEN BUILD: fault " + fault.label);
    HoldfastServer server = new HoldfastServer(config, new MetricRegistry(), List.of(broken));
    state.set(server.stateMachine());
    server.serveUntilShutdown();
  }
}
