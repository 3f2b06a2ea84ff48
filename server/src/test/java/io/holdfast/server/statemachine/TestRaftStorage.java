package io.holdfast.server.statemachine;

import java.io.IOException;
import java.nio.file.Path;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.util.SizeInBytes;

/** A Ratis storage directory for tests of the snapshot classes, without a Raft server. */
final class TestRaftStorage {
  private TestRaftStorage() {
  }

  static RaftStorage open(Path dir, RaftStorage.StartupOption option) throws IOException {
    RaftStorage s = RaftStorage.newBuilder().setDirectory(dir.toFile()).setOption(option)
        .setLogCorruptionPolicy(RaftServerConfigKeys.Log.CorruptionPolicy.EXCEPTION)
        .setStorageFreeSpaceMin(SizeInBytes.valueOf(0)).build();
    s.initialize();
    return s;
  }
}
