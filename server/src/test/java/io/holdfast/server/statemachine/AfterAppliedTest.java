package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.StateEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.StateMachineLogEntryProto;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.server.raftlog.LogProtoUtils;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

/** Observers may answer clients after an entry is applied: by then the state lock must be free. */
class AfterAppliedTest {
  private final HoldfastStateMachine sm = new HoldfastStateMachine();
  private long index;

  private Result apply(Command c) throws Exception {
    index++;
    StateMachineLogEntryProto data = LogProtoUtils.toStateMachineLogEntryProto(ClientId.randomId(), index,
        StateMachineLogEntryProto.Type.WRITE, ByteString.copyFrom(CommandCodec.encode(c, 1_000 + index)), null);
    LogEntryProto entry = LogProtoUtils.toLogEntryProto(data, 1, index);
    TransactionContext trx = TransactionContext.newBuilder().setStateMachine(sm)
        .setServerRole(RaftPeerRole.FOLLOWER).setLogEntry(entry).build();
    return ResultCodec.decode(sm.applyTransaction(trx).get(5, TimeUnit.SECONDS).getContent().toByteArray());
  }

  @Test
  void afterAppliedRunsOnTheApplyThreadOnceTheStateCanBeReadElsewhere() throws Exception {
    List<String> calls = new ArrayList<>();
    List<Integer> sessionsSeenFromAnotherThread = new ArrayList<>();
    Thread applier = Thread.currentThread();
    sm.addObserver(new StateObserver() {
      @Override
      public void onApplied(List<StateEvent> events) {
        calls.add("applied " + events.get(0).getClass().getSimpleName());
      }

      @Override
      public void afterApplied() {
        calls.add("after");
        assertEquals(applier, Thread.currentThread());
        // Another thread's read would block here if apply still held the state lock.
        sessionsSeenFromAnotherThread.add(CompletableFuture.supplyAsync(() -> sm.read(s -> s.sessionCount()))
            .orTimeout(5, TimeUnit.SECONDS).join());
      }
    });

    long session = assertInstanceOf(Result.SessionOpened.class,
        apply(new Command.OpenSession("open-1", 10_000, ClientInfo.UNKNOWN))).sessionId();
    calls.clear();
    sessionsSeenFromAnotherThread.clear();
    assertInstanceOf(Result.Granted.class, apply(new Command.Acquire("acq-1", session, "a", -1)));

    assertEquals(List.of("applied LockGranted", "after"), calls);
    assertEquals(List.of(1), sessionsSeenFromAnotherThread);
  }

  @Test
  void anEntryWithoutEventsCallsNoObserverAfterIt() throws Exception {
    List<String> calls = new ArrayList<>();
    long session = assertInstanceOf(Result.SessionOpened.class,
        apply(new Command.OpenSession("open-1", 10_000, ClientInfo.UNKNOWN))).sessionId();
    sm.addObserver(new StateObserver() {
      @Override
      public void afterApplied() {
        calls.add("after");
      }
    });
    assertInstanceOf(Result.Granted.class, apply(new Command.Acquire("acq-1", session, "a", -1)));
    calls.clear();
    Result again = apply(new Command.Acquire("acq-1", session, "a", -1));
    assertTrue(calls.isEmpty(), "a replayed request changes nothing and tells no observer: " + again);
  }
}
