package io.holdfast.server.api;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.DeleteRequest;
import io.holdfast.proto.v1.DeleteResponse;
import io.holdfast.proto.v1.GetRequest;
import io.holdfast.proto.v1.GetResponse;
import io.holdfast.proto.v1.KeyValue;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.ListRequest;
import io.holdfast.proto.v1.ListResponse;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.PutResponse;
import io.holdfast.proto.v1.ValidateFenceRequest;
import io.holdfast.proto.v1.ValidateFenceResponse;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.KvEntry;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.state.Names;
import io.holdfast.server.state.Result;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The fenced key-value store: config-sized values, each with a revision (the log index of its last
 * write); writes may be compare-and-set on that revision and fenced by a lock's token, both checked
 * atomically in apply.
 */
public final class KvEndpoint extends KvServiceGrpc.KvServiceImplBase {
  static final int DEFAULT_LIST_LIMIT = 1_000;
  static final int MAX_LIST_LIMIT = 10_000;
  /** A list page's keys and values stop at about this size (the client accepts 32 MiB). */
  static final long MAX_LIST_RESPONSE_BYTES = 4L << 20;

  private final ServerConfig config;
  private final RaftNode raft;
  private final ApiErrors errors;
  private final Responses responses;

  private final Access access;

  public KvEndpoint(ServerConfig config, RaftNode raft, ApiErrors errors, Access access) {
    this.access = access;
    this.config = config;
    this.raft = raft;
    this.errors = errors;
    this.responses = new Responses(raft, errors, true);
  }

  @Override
  public void put(PutRequest req, StreamObserver<PutResponse> out) {
    String bad = checkWrite(req.getRequestId(), req.getKey(), req.getFenceLock(), req.getFenceToken());
    if (bad == null && req.getValue().size() > config.maxValueBytes()) {
      bad = "value is " + req.getValue().size() + " bytes; the limit is " + config.maxValueBytes()
          + " (max-value-bytes)";
    }
    if (bad == null && req.hasExpectedRevision() && req.getExpectedRevision() < 0) {
      bad = "expected_revision must be 0 (absent) or a revision, got " + req.getExpectedRevision();
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    if (deny(out, io.holdfast.server.security.Verb.WRITE, req.getKey()) || denyFence(out, req.getFenceLock())) {
      return;
    }
    Command.Put cmd = new Command.Put(req.getRequestId(), req.getKey(), req.getValue().toByteArray(),
        req.hasExpectedRevision() ? req.getExpectedRevision() : -1, req.getFenceLock(), req.getFenceToken(),
        config.limits().maxKvBytes());
    responses.submit(cmd, out, r -> PutResponse.newBuilder().setHeader(responses.header())
        .setRevision(((Result.KvWritten) r).revision()).build());
  }

  @Override
  public void delete(DeleteRequest req, StreamObserver<DeleteResponse> out) {
    String bad = checkWrite(req.getRequestId(), req.getKey(), req.getFenceLock(), req.getFenceToken());
    if (bad == null && req.hasExpectedRevision() && req.getExpectedRevision() < 0) {
      bad = "expected_revision must be 0 (absent) or a revision, got " + req.getExpectedRevision();
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    if (deny(out, io.holdfast.server.security.Verb.WRITE, req.getKey()) || denyFence(out, req.getFenceLock())) {
      return;
    }
    Command.Delete cmd = new Command.Delete(req.getRequestId(), req.getKey(),
        req.hasExpectedRevision() ? req.getExpectedRevision() : -1, req.getFenceLock(), req.getFenceToken());
    responses.submit(cmd, out, r -> {
      Result.KvWritten w = (Result.KvWritten) r;
      return DeleteResponse.newBuilder().setHeader(responses.header()).setDeleted(w.existed())
          .setRevision(w.revision()).build();
    });
  }

  @Override
  public void get(GetRequest req, StreamObserver<GetResponse> out) {
    String bad = Names.checkKey(req.getKey());
    if (bad == null) {
      bad = access.checkLength("key", req.getKey());
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    if (deny(out, io.holdfast.server.security.Verb.READ, req.getKey())) {
      return;
    }
    responses.read(req.getStaleOk(), out, () -> {
      KvEntry e = raft.stateMachine().read(s -> s.kv(req.getKey()));
      GetResponse.Builder b = GetResponse.newBuilder().setHeader(responses.header()).setFound(e != null);
      if (e != null) {
        b.setKv(keyValue(e, false));
      }
      return b.build();
    });
  }

  @Override
  public void list(ListRequest req, StreamObserver<ListResponse> out) {
    if (req.getLimit() < 0 || req.getLimit() > MAX_LIST_LIMIT) {
      out.onError(errors.invalid("limit must be between 0 (default " + DEFAULT_LIST_LIMIT + ") and "
          + MAX_LIST_LIMIT + ", got " + req.getLimit()));
      return;
    }
    if (req.getPrefix().length() > Names.MAX_LOCK_NAME) {
      out.onError(errors.invalid("prefix is longer than the longest key (" + Names.MAX_LOCK_NAME + ")"));
      return;
    }
    if (req.getStartAfter().length() > Names.MAX_LOCK_NAME) {
      out.onError(errors.invalid("start_after is longer than the longest key (" + Names.MAX_LOCK_NAME + ")"));
      return;
    }
    int limit = req.getLimit() == 0 ? DEFAULT_LIST_LIMIT : req.getLimit();
    // Listing a whole prefix needs read on all of it (filtering would make 'more' and limits lie).
    if (deny(out, null, req.getPrefix())) {
      return;
    }
    responses.read(req.getStaleOk(), out, () -> {
      List<KvEntry> entries = raft.stateMachine().read(s -> s.kvList(req.getPrefix(), req.getStartAfter(), limit + 1));
      ListResponse.Builder b = ListResponse.newBuilder().setHeader(responses.header());
      // The store holds up to 128 MiB, more than a client accepts in one message (and more than a
      // node should build at once): a page ends at the size cap too, and says there is more.
      long bytes = 0;
      int n = 0;
      for (KvEntry e : entries) {
        long size = e.key().length() + (req.getKeysOnly() ? 0 : e.size()) + 64;
        if (n == limit || (n > 0 && bytes + size > MAX_LIST_RESPONSE_BYTES)) {
          b.setMore(true);
          break;
        }
        b.addKvs(keyValue(e, req.getKeysOnly()));
        bytes += size;
        n++;
      }
      return b.build();
    });
  }

  @Override
  public void validateFence(ValidateFenceRequest req, StreamObserver<ValidateFenceResponse> out) {
    String bad = Names.checkLockName(req.getLockName());
    if (bad == null) {
      bad = access.checkLength("lock name", req.getLockName());
    }
    if (bad == null && req.getToken() <= 0) {
      bad = "token must be positive, got " + req.getToken();
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    if (deny(out, io.holdfast.server.security.Verb.READ, req.getLockName())) {
      return;
    }
    responses.read(false, out, () -> raft.stateMachine().read(s -> {
      LockRecord lock = s.lock(req.getLockName());
      Result.Failure refused = s.checkFence(req.getLockName(), req.getToken());
      if (refused != null) {
        errors.fencedWriteRefused(refused.message());
      }
      return ValidateFenceResponse.newBuilder().setHeader(responses.header())
          .setValid(refused == null)
          .setCurrentToken(lock == null ? 0 : lock.token())
          .setHolderSessionId(lock == null ? 0 : lock.holderSessionId()).build();
    }));
  }

  private static KeyValue keyValue(KvEntry e, boolean keyOnly) {
    KeyValue.Builder b = KeyValue.newBuilder().setKey(e.key()).setRevision(e.revision())
        .setCreateRevision(e.createRevision()).setFenceLock(e.fenceLock()).setFenceToken(e.fenceToken())
        .setWrittenAtMs(e.writtenAtMs());
    if (!keyOnly) {
      b.setValue(ByteString.copyFrom(e.value()));
    }
    return b.build();
  }

  /** Sends PERMISSION_DENIED unless the caller may {@code verb} {@code name} (null verb: read a prefix). */
  private boolean deny(StreamObserver<?> out, io.holdfast.server.security.Verb verb, String name) {
    var denied = verb == null ? access.requireAllUnder(io.holdfast.server.security.Verb.READ, name) : access.require(verb, name);
    if (denied != null) {
      out.onError(denied);
      return true;
    }
    return false;
  }

  private boolean denyFence(StreamObserver<?> out, String fenceLock) {
    var denied = access.requireFence(fenceLock);
    if (denied != null) {
      out.onError(denied);
      return true;
    }
    return false;
  }

  private String checkWrite(String requestId, String key, String fenceLock, long fenceToken) {
    String bad = Names.checkRequestId(requestId);
    if (bad == null) {
      bad = Names.checkKey(key);
    }
    if (bad == null) {
      bad = access.checkLength("key", key);
    }
    if (bad == null && !fenceLock.isEmpty()) {
      bad = Names.checkLockName(fenceLock);
      if (bad == null) {
        bad = access.checkLength("fence_lock", fenceLock);
      }
      if (bad == null && fenceToken <= 0) {
        bad = "fence_token must be positive for a fenced write, got " + fenceToken;
      }
    }
    if (bad == null && fenceLock.isEmpty() && fenceToken != 0) {
      bad = "fence_token given without fence_lock";
    }
    return bad;
  }


}
