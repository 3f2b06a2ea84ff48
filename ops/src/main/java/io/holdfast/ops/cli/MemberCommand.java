package io.holdfast.ops.cli;

import io.holdfast.proto.v1.AddMemberRequest;
import io.holdfast.proto.v1.ListMembersRequest;
import io.holdfast.proto.v1.Member;
import io.holdfast.proto.v1.RemoveMemberRequest;
import io.holdfast.proto.v1.TransferLeaderRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code holdfast member list|add|remove}: online membership changes through the leader. */
@Command(name = "member", mixinStandardHelpOptions = true,
    description = "List, add or remove voting members (online; one change at a time).",
    subcommands = {MemberCommand.ListMembers.class, MemberCommand.Add.class, MemberCommand.Remove.class},
    footer = {"", "Examples:", "  holdfast member list",
        "  holdfast member add n4 10.0.0.4:7410 10.0.0.4:7400   # after starting n4 with join: true",
        "  holdfast member remove n2", "", "See ops/runbooks/replace-node.md."})
public final class MemberCommand {

  static List<Map<String, Object>> json(List<Member> members) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Member m : members) {
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("id", m.getId());
      j.put("peer_address", m.getPeerAddress());
      j.put("client_address", m.getClientAddress());
      j.put("leader", m.getLeader());
      out.add(j);
    }
    return out;
  }

  static void print(CommandSpec spec, ClusterOptions cluster, List<Member> members) {
    var out = spec.commandLine().getOut();
    if (cluster.json()) {
      Output.json(out, json(members));
      return;
    }
    List<List<String>> rows = new ArrayList<>();
    for (Member m : members) {
      rows.add(List.of(m.getId(), m.getPeerAddress(), m.getClientAddress(), m.getLeader() ? "leader" : ""));
    }
    Output.table(out, List.of("MEMBER", "PEER", "CLIENT", "ROLE"), rows);
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "The voting members, from the replicated Raft configuration.",
      footer = {"", "Example:", "  holdfast member list -o json"})
  static final class ListMembers implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      try (AdminChannels admin = cluster.adminChannels()) {
        String endpoint = admin.leader();
        print(spec, cluster, admin.stub(endpoint, cluster.timeout).listMembers(ListMembersRequest.getDefaultInstance())
            .getMembersList());
        return ExitCodes.OK;
      }
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = {"Adds a voting member. Start the node first, with join: true in its config; the leader "
          + "catches it up, then it votes. Waits until the new configuration is committed."},
      footer = {"", "Example:", "  holdfast member add n4 10.0.0.4:7410 10.0.0.4:7400"})
  static final class Add implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "the new node's node-id")
    String id;

    @Parameters(index = "1", paramLabel = "PEER", description = "its Raft address, host:port")
    String peer;

    @Parameters(index = "2", paramLabel = "CLIENT", description = "its client address, host:port")
    String client;

    @Override
    public Integer call() {
      try (AdminChannels admin = cluster.adminChannels()) {
        String endpoint = admin.leader();
        // Catch-up of a new member can take a while; the leader gives up on a node that never answers.
        Duration wait = cluster.timeout.plus(Duration.ofSeconds(60));
        io.holdfast.proto.v1.AddMemberResponse reply;
        try {
          reply = admin.stub(endpoint, wait).addMember(
              AddMemberRequest.newBuilder().setId(id).setPeerAddress(peer).setClientAddress(client).build());
        } catch (io.grpc.StatusRuntimeException e) {
          if (e.getStatus().getCode() == io.grpc.Status.Code.DEADLINE_EXCEEDED) {
            throw new io.grpc.StatusRuntimeException(e.getStatus().withDescription("no answer within " + wait.toSeconds()
                + " s: the change may still complete on the leader; `holdfast member list` shows whether " + id
                + " joined (" + e.getStatus().getDescription() + ")"));
          }
          throw e;
        }
        print(spec, cluster, reply.getMembersList());
        return ExitCodes.OK;
      }
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = {"Removes a voting member; it stops itself once the change is committed. Removing the "
          + "leader first hands leadership to another member."},
      footer = {"", "Example:", "  holdfast member remove n2"})
  static final class Remove implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "the member to remove")
    String id;

    @Override
    public Integer call() {
      try (AdminChannels admin = cluster.adminChannels()) {
        String endpoint = admin.leader();
        if (id.equals(admin.status(endpoint).getMemberId())) {
          admin.stub(endpoint, cluster.timeout.plus(Duration.ofSeconds(15)))
              .transferLeader(TransferLeaderRequest.getDefaultInstance());
          endpoint = admin.leader();
        }
        var reply = admin.stub(endpoint, cluster.timeout.plus(Duration.ofSeconds(30)))
            .removeMember(RemoveMemberRequest.newBuilder().setId(id).build());
        print(spec, cluster, reply.getMembersList());
        return ExitCodes.OK;
      }
    }
  }
}
