package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.LogEntry;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class CommandCodecTest {
  private static final ClientInfo CLIENT =
      new ClientInfo("deployer", "node-7", 4242, new TreeMap<>(Map.of("zone", "b", "app", "aim", "ä", "ü")));

  static List<Command> samples() {
    return List.of(
        new Command.OpenSession("open-1", 15_000, CLIENT),
        new Command.OpenSession("open-2", 1, ClientInfo.UNKNOWN),
        new Command.CloseSession("close-1", 42),
        new Command.ExpireSession(42, 41),
        new Command.Acquire("acq-1", 42, "fleet/aim_lock_config.conf", -1),
        new Command.Acquire("acq-2", 42, "x", 0),
        new Command.Acquire("acq-3", 42, "x", 3_600_000),
        new Command.CancelWait("cw-1", 42, "x", "acq-3", true),
        new Command.CancelWait("cw-2", 42, "x", "", false),
        new Command.Release("rel-1", 42, "x", Long.MAX_VALUE),
        new Command.Release("rel-2", 42, "x", 7, true),
        new Command.OpenSession("open-3", 9_000, CLIENT, "orchestrator/node-7"),
        new Command.Acquire("acq-4", 42, "x", 10, 15_000, 60_000),
        new Command.Revoke("rv-1", "fleet/x", "node-7 is dead", 43, "sre-alice"),
        new Command.Revoke("rv-2", "fleet/x", "again", 0, ""),
        new Command.AdminExpireSession("ax-1", 42, "host powered off", "sre-bob"),
        new Command.Put("put-1", "fleet/aim_lock_config.conf", "threads=8".getBytes(), -1, "", 0),
        new Command.Put("put-2", "k", new byte[0], 0, "fleet/aim_lock_config", 77),
        new Command.Delete("del-1", "k", 12, "fleet/aim_lock_config", 77),
        new Command.Checkpoint(List.of()),
        new Command.Checkpoint(List.of(42L, 7L, 42L)),
        new Command.RaiseApplyRules(3),
        new Command.Batch(List.of(new Command.Acquire("acq-5", 42, "y", -1),
            new Command.Put("put-3", "k", "v".getBytes(), -1, "y", 9), new Command.Checkpoint(List.of(42L)))));
  }

  @Test
  void whatANewLeaderCarriesAcrossTheFailoverTravelsInTheEntry() throws Exception {
    byte[] mine = CommandCodec.encode(new Command.CloseSession("r", 1), 0);
    assertEquals(700, CommandCodec.decode(CommandCodec.stamp(mine, 5, LogEntry.RULES, LogEntry.RULES, 0, 700))
        .carriedMs());
    assertEquals(0, CommandCodec.decode(CommandCodec.stamp(mine, 5, LogEntry.RULES, LogEntry.RULES, 0)).carriedMs());
    assertEquals(300, CommandCodec.decode(CommandCodec.stampForeign(new Command.CloseSession("r", 1), 5, LogEntry.RULES,
        LogEntry.RULES, 0, 300)).carriedMs());
  }

  /** Renewals, expiries and rule raises are the leader's own: none is taken from a Raft-port client. */
  @Test
  void aForeignCheckpointExpiryOrRulesRaiseIsRefused() throws Exception {
    for (Command c : List.of(new Command.Checkpoint(new long[] {1}), new Command.ExpireSession(1, 2),
        new Command.RaiseApplyRules(LogEntry.RULES),
        new Command.Batch(List.of(new Command.CloseSession("r", 1), new Command.Checkpoint(new long[] {1}))))) {
      byte[] theirs = CommandCodec.encode(c, 0);
      var e = org.junit.jupiter.api.Assertions.assertThrows(com.google.protobuf.InvalidProtocolBufferException.class,
          () -> CommandCodec.foreign(theirs, LogEntry.RULES), c.toString());
      assertTrue(e.getMessage().contains("only the leader proposes"), e.getMessage());
    }
    assertEquals(new Command.CloseSession("r", 1),
        CommandCodec.foreign(CommandCodec.encode(new Command.CloseSession("r", 1), 0), LogEntry.RULES));
  }

  @Test
  void aBatchInsideABatchDoesNotDecode() {
    var inner = io.holdfast.server.statemachine.proto.Command.newBuilder().setBatch(
        io.holdfast.server.statemachine.proto.CommandBatch.getDefaultInstance());
    byte[] nested = io.holdfast.server.statemachine.proto.Command.newBuilder().setBatch(
        io.holdfast.server.statemachine.proto.CommandBatch.newBuilder().addCommands(inner)).build().toByteArray();
    org.junit.jupiter.api.Assertions.assertThrows(com.google.protobuf.InvalidProtocolBufferException.class,
        () -> CommandCodec.decode(nested));
  }

  @ParameterizedTest
  @MethodSource("samples")
  void everyCommandRoundTripsWithItsLeaderTime(Command c) throws Exception {
    CommandCodec.Decoded d = CommandCodec.decode(CommandCodec.encode(c, 1_700_000_123_456L));
    assertEquals(c, d.command());
    assertEquals(c.fingerprint(), d.command().fingerprint());
    assertEquals(1_700_000_123_456L, d.leaderTimeMs());
  }

  @Test
  void aCommandAnotherNodeEncodedIsLoggedAsThisBuildEncodesIt() throws Exception {
    // A newer follower's encoding: a field this build does not know (99, a varint) rides along.
    byte[] theirs = UnappliableEntryTest.concat(CommandCodec.encode(new Command.CloseSession("c-1", 42), 0),
        new byte[] {(byte) 0x98, 0x06, 0x01});
    byte[] kept = CommandCodec.stamp(theirs, 7, LogEntry.RULES, LogEntry.RULES);
    byte[] logged = CommandCodec.stampForeign(theirs, 7, LogEntry.RULES, LogEntry.RULES);
    assertEquals(false, io.holdfast.server.statemachine.proto.Command.parseFrom(kept).getUnknownFields().asMap().isEmpty());
    assertEquals(true, io.holdfast.server.statemachine.proto.Command.parseFrom(logged).getUnknownFields().asMap()
        .isEmpty(), "older members would ignore what newer ones apply");
    CommandCodec.Decoded d = CommandCodec.decode(logged);
    assertEquals(new Command.CloseSession("c-1", 42), d.command());
    assertEquals(7, d.leaderTimeMs());
    assertEquals(LogEntry.RULES, d.applyRules());
  }

  @Test
  void samplesCoverEveryCommandKind() {
    Set<Class<?>> kinds = Arrays.stream(Command.class.getPermittedSubclasses()).collect(Collectors.toSet());
    assertEquals(kinds, samples().stream().map(Object::getClass).collect(Collectors.toSet()));
  }

  @Test
  void stampReplacesTheLeaderTimeAndKeepsTheCommand() throws Exception {
    Command c = new Command.Acquire("acq-1", 42, "x", 5_000);
    byte[] unstamped = CommandCodec.encode(c, 0);

    CommandCodec.Decoded d = CommandCodec.decode(CommandCodec.stamp(unstamped, 123_456, LogEntry.RULES, LogEntry.RULES));
    assertEquals(123_456, d.leaderTimeMs());
    assertEquals(c, d.command());
    assertEquals(999, CommandCodec.decode(CommandCodec.stamp(CommandCodec.encode(c, 5), 999, LogEntry.RULES, LogEntry.RULES)).leaderTimeMs());
  }

  @Test
  void labelsComeBackSorted() throws Exception {
    var open = (Command.OpenSession) CommandCodec.decode(CommandCodec.encode(samples().get(0), 1)).command();
    assertEquals(List.of("app", "zone", "ä"), List.copyOf(open.client().labels().keySet()));
  }

  @Test
  void entryWithoutACommandIsRefused() {
    byte[] empty = io.holdfast.server.statemachine.proto.Command.newBuilder().setLeaderTimeMs(5).build().toByteArray();
    assertThrows(InvalidProtocolBufferException.class, () -> CommandCodec.decode(empty));
    assertThrows(InvalidProtocolBufferException.class, () -> CommandCodec.decode(new byte[] {(byte) 0x80}));
  }
}
