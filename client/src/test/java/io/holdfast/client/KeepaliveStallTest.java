package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.client.testing.FakeSessions;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A late answer to an old keepalive does not hide that the newer one goes unanswered. */
class KeepaliveStallTest {
  /**
   * Stream 1 answers the first keepalive and holds the second; when the client gives up on it
   * and renews on stream 2, the held answer arrives late on stream 1 and stream 2 stays silent.
   * Stream 3 answers everything.
   */
  static final class LateThenSilent extends FakeSessions {
    final Map<Integer, Long> streamStartNanos = new ConcurrentHashMap<>();
    private volatile Runnable held;

    @Override
    protected void onKeepAlive(int stream, KeepAliveRequest r, StreamObserver<KeepAliveResponse> out) {
      streamStartNanos.putIfAbsent(stream, System.nanoTime());
      if (stream == 1 && r.getSeq() == 1 || stream >= 3) {
        answer(r, out);
      } else if (stream == 1) {
        held = () -> answer(r, out);
      } else if (stream == 2 && held != null) {
        Runnable late = held;
        held = null;
        late.run();
      }
    }
  }

  @Test
  void theNewKeepaliveIsTimedFromItsOwnSendAfterALateAnswerToAnOldOne() throws Exception {
    LateThenSilent sessions = new LateThenSilent();
    try (FakeNode node = FakeNode.serve(sessions);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
        // Keepalives every 4 s; one unanswered for 2 s makes the client renew on a new stream.
        Session s = client.newSession(Duration.ofSeconds(12))) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!sessions.streamStartNanos.containsKey(3) && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      assertTrue(sessions.streamStartNanos.containsKey(3), "the client gave up on the silent stream 2");
      long gapMs = TimeUnit.NANOSECONDS.toMillis(sessions.streamStartNanos.get(3) - sessions.streamStartNanos.get(2));
      // 2 s: stream 2's keepalive timed from its send. Had the late answer cleared the timer, only
      // the next keepalive (4 s after the last) would have been timed: about 4 s.
      assertTrue(gapMs < 3_000, "stream 2 was given up on " + gapMs + " ms after its keepalive went unanswered");
      assertTrue(s.isValid());
    }
  }
}
