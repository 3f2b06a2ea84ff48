package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.client.testing.FakeSessions;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.DeleteRequest;
import io.holdfast.proto.v1.DeleteResponse;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.PutResponse;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.ReleaseResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Resigning gives the election's lock up even when clearing the announcement fails. */
class ElectionResignTest {
  static final class Locks extends LockServiceGrpc.LockServiceImplBase {
    final List<Long> released = new CopyOnWriteArrayList<>();

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      out.onNext(AcquireResponse.newBuilder().setGranted(true).setToken(7).build());
      out.onCompleted();
    }

    @Override
    public void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
      released.add(req.getToken());
      out.onNext(ReleaseResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  /** Takes the announcement; refuses to delete it (a full disk, say): a failure no retry mends. */
  static final class Store extends KvServiceGrpc.KvServiceImplBase {
    @Override
    public void put(PutRequest req, StreamObserver<PutResponse> out) {
      out.onNext(PutResponse.newBuilder().setRevision(8).build());
      out.onCompleted();
    }

    @Override
    public void delete(DeleteRequest req, StreamObserver<DeleteResponse> out) {
      out.onError(FakeNode.error(Status.Code.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"));
    }
  }

  @Test
  void theLockIsReleasedWhenTheAnnouncementCannotBeClearedAndTheFailureIsStillThrown() throws Exception {
    Locks locks = new Locks();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks, new Store());
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      Leadership me = client.election("orchestrators/eu").campaign(s, "node-7");
      assertTrue(me.isValid());
      HoldfastException e = assertThrows(io.holdfast.client.LimitExceededException.class, me::resign);
      assertTrue(e.getMessage().contains("RESOURCE_EXHAUSTED"), e.getMessage());
      assertEquals(List.of(7L), locks.released, "the lock went back all the same");
      assertFalse(me.isValid());
    }
  }
}
