package io.holdfast.server.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.proto.v1.WatchServiceGrpc;
import io.holdfast.server.state.Names;

/** The watch service: a stream of lock and key events, served by any node from its applied log. */
public final class WatchEndpoint extends WatchServiceGrpc.WatchServiceImplBase {
  static final int MAX_PREFIXES = 64;

  private final WatchHub hub;
  private final ApiErrors errors;

  public WatchEndpoint(WatchHub hub, ApiErrors errors) {
    this.hub = hub;
    this.errors = errors;
  }

  @Override
  public void watch(WatchRequest req, StreamObserver<WatchResponse> out) {
    String bad = null;
    if (req.getLockPrefixesCount() + req.getKeyPrefixesCount() == 0) {
      bad = "watch at least one lock prefix or key prefix (an empty prefix means all)";
    } else if (req.getLockPrefixesCount() + req.getKeyPrefixesCount() > MAX_PREFIXES) {
      bad = "at most " + MAX_PREFIXES + " prefixes per watch";
    } else if (req.getAfterIndex() < 0) {
      bad = "after_index must not be negative, got " + req.getAfterIndex();
    } else {
      for (String p : req.getLockPrefixesList()) {
        bad = p.length() > Names.MAX_LOCK_NAME ? "lock prefix longer than " + Names.MAX_LOCK_NAME : bad;
      }
      for (String p : req.getKeyPrefixesList()) {
        bad = p.length() > Names.MAX_LOCK_NAME ? "key prefix longer than " + Names.MAX_LOCK_NAME : bad;
      }
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    ServerCallStreamObserver<WatchResponse> call = (ServerCallStreamObserver<WatchResponse>) out;
    Runnable unsubscribe = hub.subscribe(req, call);
    call.setOnCancelHandler(unsubscribe);
  }
}
