package io.holdfast.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Which endpoint the client tries next after a failure, a redirect or a dead node. */
class EndpointsTest {
  private static final String A = "127.0.0.1:1";
  private static final String B = "127.0.0.1:2";
  private static final String C = "127.0.0.1:3";

  @Test
  void aFailureWithoutHintMovesToTheNextEndpointInOrder() {
    try (Endpoints e = new Endpoints(List.of(A, B, C))) {
      e.failed(A);
      assertEquals(B, e.current());
      e.failed(B);
      assertEquals(C, e.current());
      e.failed(C);
      assertEquals(A, e.current());
    }
  }

  @Test
  void aFailureOfAnEndpointNoLongerCurrentDoesNotMoveOn() {
    try (Endpoints e = new Endpoints(List.of(A, B, C))) {
      e.leaderHint(C);
      e.failed(A);
      assertEquals(C, e.current(), "a late failure from an old endpoint must not undo a redirect");
    }
  }

  @Test
  void anUnreachableEndpointIsSuspectAndSkippedByTheRotation() {
    try (Endpoints e = new Endpoints(List.of(A, B, C))) {
      e.unreachable(A);
      assertTrue(e.suspect(A));
      assertFalse(e.suspect(B));
      assertEquals(B, e.current());
      // B answers "no leader": the rotation goes on to C, not back to the dead A.
      e.failed(B);
      assertEquals(C, e.current());
      e.failed(C);
      assertEquals(B, e.current(), "the dead endpoint is skipped while it is suspect");
    }
  }

  @Test
  void whenEveryEndpointIsSuspectTheRotationStillMoves() {
    try (Endpoints e = new Endpoints(List.of(A, B, C))) {
      e.unreachable(A);
      e.unreachable(B);
      assertEquals(C, e.current());
      e.unreachable(C);
      assertEquals(A, e.current(), "with all suspect, plain order, so that a restarted node is found");
    }
  }

  @Test
  void aRedirectNamingANewEndpointAddsIt() {
    String d = "127.0.0.1:4";
    try (Endpoints e = new Endpoints(List.of(A, B))) {
      e.leaderHint(d);
      assertEquals(d, e.current());
      assertEquals(List.of(A, B, d), e.all());
      assertFalse(e.suspect(d));
    }
  }

  @Test
  void aRedirectToAnUnknownLeaderAsksForTheMembersAndAKnownOneDoesNot() {
    java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
    try (Endpoints e = new Endpoints(List.of(A, B))) {
      e.onUnknownLeader(asked::incrementAndGet);
      e.leaderHint(B);
      assertEquals(0, asked.get());
      e.leaderHint("127.0.0.1:4");
      assertEquals(1, asked.get());
      e.leaderHint("127.0.0.1:4");
      assertEquals(1, asked.get());
    }
  }

  @Test
  void theMembersComeFirstThenTheSeedsAndLearnedNonMembersAreDropped() {
    String d = "127.0.0.1:4";
    String f = "127.0.0.1:5";
    String g = "127.0.0.1:6";
    try (Endpoints e = new Endpoints(List.of(A, B, C))) {
      e.leaderHint(d);
      e.learn(List.of(C, f, g)); // A, B and D were replaced
      assertEquals(List.of(C, f, g, A, B), e.all(), "the learned D is gone, the seeds stay at the end");
      assertEquals(C, e.current(), "the current endpoint was not a member any more: the first member");
      e.failed(C);
      assertEquals(f, e.current(), "the rotation goes through the members before the dead seeds");
      e.learn(List.of());
      assertEquals(List.of(C, f, g, A, B), e.all(), "an empty answer changes nothing");
    }
  }

  @Test
  void learningKeepsTheCurrentEndpointWhileItIsAMember() {
    try (Endpoints e = new Endpoints(List.of(A, B, C))) {
      e.leaderHint(B);
      e.learn(List.of(C, B, A));
      assertEquals(B, e.current());
      assertEquals(List.of(C, B, A), e.all());
    }
  }
}
