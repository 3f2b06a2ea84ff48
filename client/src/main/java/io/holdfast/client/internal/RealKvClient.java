package io.holdfast.client.internal;

import com.google.protobuf.ByteString;
import io.holdfast.client.KeyValue;
import io.holdfast.client.KvClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.StaleTokenException;
import io.holdfast.proto.v1.DeleteRequest;
import io.holdfast.proto.v1.GetRequest;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.ListRequest;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.ValidateFenceRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** KvClient over the retrying caller; every write carries one request id across its retries. */
final class RealKvClient implements KvClient {
  private final Caller caller;
  private final Duration callTimeout;

  RealKvClient(Caller caller, Duration callTimeout) {
    this.caller = caller;
    this.callTimeout = callTimeout;
  }

  static KeyValue keyValue(io.holdfast.proto.v1.KeyValue kv) {
    return new KeyValue(kv.getKey(), kv.getValue().toByteArray(), kv.getRevision(), kv.getCreateRevision(),
        kv.getFenceLock(), kv.getFenceToken(), kv.getWrittenAtMs() == 0 ? null : Instant.ofEpochMilli(kv.getWrittenAtMs()));
  }

  @Override
  public long put(String key, byte[] value) {
    return Errors.join(putAsync(key, value, -1, "", 0));
  }

  @Override
  public long putFenced(String key, byte[] value, LockLease lease) {
    try {
      return Errors.join(putAsync(key, value, -1, lease.name(), lease.token()));
    } catch (StaleTokenException e) {
      throw lost(lease, e);
    }
  }

  /**
   * The cluster refused the lease's token: its grant has ended (tokens are never granted twice), so
   * the lease stops saying it is valid now rather than at the session's next keepalive answer.
   */
  private static StaleTokenException lost(LockLease lease, StaleTokenException e) {
    if (lease instanceof RealLease real) {
      real.markLost();
    }
    return e;
  }

  @Override
  public long putIfRevision(String key, byte[] value, long expectedRevision) {
    if (expectedRevision < 0) {
      // -1 is "any revision" to putAsync: here it would make a compare-and-set loop that read an
      // absent key as -1 overwrite one created meanwhile.
      throw new IllegalArgumentException("expectedRevision must be 0 (absent) or a revision, got " + expectedRevision
          + "; for an unconditional write use put");
    }
    return Errors.join(putAsync(key, value, expectedRevision, "", 0));
  }

  @Override
  public CompletableFuture<Long> putAsync(String key, byte[] value, long expectedRevision, String fenceLock,
      long fenceToken) {
    if (expectedRevision < -1) {
      // Not silently unconditional: a caller that computed a bad revision meant a condition.
      throw new IllegalArgumentException("expectedRevision must be -1 (any), 0 (absent) or a revision, got "
          + expectedRevision);
    }
    PutRequest.Builder b = PutRequest.newBuilder().setRequestId(RequestIds.next()).setKey(key)
        .setValue(ByteString.copyFrom(value)).setFenceLock(fenceLock).setFenceToken(fenceToken);
    if (expectedRevision >= 0) {
      b.setExpectedRevision(expectedRevision);
    }
    PutRequest req = b.build();
    return caller.write("put " + key, callTimeout, (ch, t) -> KvServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS).put(req)).thenApply(r -> r.getRevision());
  }

  @Override
  public Optional<KeyValue> get(String key) {
    return Errors.join(getAsync(key));
  }

  @Override
  public CompletableFuture<Optional<KeyValue>> getAsync(String key) {
    return caller.call("get " + key, callTimeout, (ch, t) -> KvServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS).get(GetRequest.newBuilder().setKey(key).build()))
        .thenApply(r -> r.getFound() ? Optional.of(keyValue(r.getKv())) : Optional.empty());
  }

  @Override
  public boolean delete(String key) {
    return deleteAsync(key, "", 0);
  }

  @Override
  public boolean deleteFenced(String key, LockLease lease) {
    try {
      return deleteAsync(key, lease.name(), lease.token());
    } catch (StaleTokenException e) {
      throw lost(lease, e);
    }
  }

  private boolean deleteAsync(String key, String fenceLock, long fenceToken) {
    DeleteRequest req = DeleteRequest.newBuilder().setRequestId(RequestIds.next()).setKey(key)
        .setFenceLock(fenceLock).setFenceToken(fenceToken).build();
    return Errors.join(caller.write("delete " + key, callTimeout, (ch, t) -> KvServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS).delete(req))).getDeleted();
  }

  @Override
  public List<KeyValue> list(String prefix) {
    List<KeyValue> out = new java.util.ArrayList<>();
    String after = "";
    io.holdfast.proto.v1.ListResponse page;
    do {
      ListRequest req = ListRequest.newBuilder().setPrefix(prefix).setStartAfter(after).build();
      page = Errors.join(caller.call("list " + prefix, callTimeout, (ch, t) -> KvServiceGrpc.newFutureStub(ch)
          .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS).list(req)));
      if (page.getKvsCount() == 0) {
        break; // a server that says "more" with nothing in the page would loop here for ever
      }
      if (!after.isEmpty() && page.getKvs(0).getKey().compareTo(after) <= 0) {
        // A node of an older version ignores start_after and answers the first page again.
        throw new io.holdfast.client.HoldfastException("list " + prefix + ": the node answered the first page again "
            + "(a version without paging?); " + out.size() + " keys read, more remain");
      }
      page.getKvsList().forEach(kv -> out.add(keyValue(kv)));
      after = page.getKvs(page.getKvsCount() - 1).getKey();
    } while (page.getMore());
    return java.util.Collections.unmodifiableList(out);
  }

  @Override
  public boolean validateFence(String lock, long token) {
    return Errors.join(caller.call("validate fence " + lock, callTimeout, (ch, t) -> KvServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .validateFence(ValidateFenceRequest.newBuilder().setLockName(lock).setToken(token).build()))).getValid();
  }
}
