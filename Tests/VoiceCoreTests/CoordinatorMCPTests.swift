import Testing
@testable import VoiceCore

/// Device MCP through the Coordinator: the listing after hello, the tools in assistant jobs, a
/// job's `tools/call` to the device and back, and the device answering late, wrongly or never.
@Suite struct CoordinatorMCPTests {
    static let s = SessionID(1)
    static let status: JSON = ["name": "self.get_device_status", "description": "status", "inputSchema": ["type": "object"]]
    static let volume: JSON = ["name": "self.audio_speaker.set_volume", "description": "volume",
                               "inputSchema": ["type": "object", "properties": ["volume": ["type": "integer"]]]]

    func fleet(_ config: CoordinatorConfig = CoordinatorConfig()) -> CoordinatorScript {
        var t = CoordinatorScript(config)
        t.worker(1, [.asr])
        t.worker(2, [.assistant])
        t.worker(3, [.tts])
        return t
    }

    /// A device whose hello announces MCP.
    func connect(_ t: inout CoordinatorScript) {
        t.feed(.deviceConnected(Self.s, DeviceInfo(deviceID: "dev1", protocolVersion: 1)))
        t.feed(.deviceHello(Self.s, DeviceHello(mcp: true)))
    }

    func requests(_ t: CoordinatorScript) -> [JSON] {
        t.deviceMessages(Self.s).compactMap { if case let .mcp(p) = $0 { return p } else { return nil } }
    }

    func answer(_ t: inout CoordinatorScript, _ id: JSON, result: JSON) {
        t.feed(.deviceMCP(Self.s, ["jsonrpc": "2.0", "id": id, "result": result]))
    }

    /// initialize, then two pages of tools/list.
    func list(_ t: inout CoordinatorScript) {
        answer(&t, requests(t)[0]["id"]!, result: ["protocolVersion": "2024-11-05", "capabilities": ["tools": [:]]])
        answer(&t, requests(t)[1]["id"]!, result: ["tools": [Self.status], "nextCursor": "self.audio_speaker.set_volume"])
        answer(&t, requests(t)[2]["id"]!, result: ["tools": [Self.volume]])
    }

    func assistantTools(_ t: CoordinatorScript) -> [JSON]?? {
        for e in t.effects.reversed() {
            if case let .workerSend(_, .job(_, .assistant, _, _, .assistant(_, _, _, _, tools, _)), _) = e { return .some(tools) }
        }
        return nil
    }

    func inputs(_ t: CoordinatorScript) -> [JSON] {
        t.effects.compactMap { if case let .workerSend(_, .inputMCP(_, p), _) = $0 { return p } else { return nil } }
    }

    /// The turn's assistant job asks the device to set the volume (JSON-RPC id 7 of its own).
    func call(_ t: inout CoordinatorScript) -> (JobID, WorkerID) {
        t.feed(.textInput(Self.s, "set the volume to 30"))
        let (job, w) = t.assistantJob(1)!
        t.feed(.workerAccepted(w, job))
        t.feed(.workerOutput(w, job, .mcp(["jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                           "params": ["name": "self.audio_speaker.set_volume", "arguments": ["volume": 30]]])))
        return (job, w)
    }

    @Test func helloWithMCPListsTheToolsPageByPageAndEveryAssistantJobGetsThem() {
        var t = fleet()
        connect(&t)
        #expect(requests(t).map { $0["method"]?.stringValue } == ["initialize"])
        #expect(requests(t)[0]["params"]?["capabilities"] == .object([]))
        answer(&t, requests(t)[0]["id"]!, result: ["protocolVersion": "2024-11-05"])
        #expect(requests(t)[1]["method"] == "tools/list" && requests(t)[1]["params"]?["cursor"] == "")
        answer(&t, requests(t)[1]["id"]!, result: ["tools": [Self.status], "nextCursor": "self.audio_speaker.set_volume"])
        #expect(requests(t)[2]["params"]?["cursor"] == "self.audio_speaker.set_volume")
        answer(&t, requests(t)[2]["id"]!, result: ["tools": [Self.volume]])
        #expect(requests(t).count == 3)
        #expect(t.hasSubsequence(["mcp.request reason=initialize value=1", "mcp.answer reason=initialize to=result",
                                  "mcp.request reason=tools/list", "mcp.request reason=tools/list", "mcp.listed reason=ok value=2"]))
        t.feed(.textInput(Self.s, "hello"))
        #expect(assistantTools(t) == .some([Self.status, Self.volume]))
        #expect(t.c.timerCount == t.timers.count)
    }

    @Test func aVisionModelIsAdvertisedInInitialize() throws {
        var t = try CoordinatorScript(json: #"{"vision_url": "http://10.0.0.2:8003/vision/explain", "vision_token": "tok"}"#)
        connect(&t)
        #expect(requests(t)[0]["params"]?["capabilities"]?["vision"] == ["url": "http://10.0.0.2:8003/vision/explain", "token": "tok"])
    }

    @Test func aJobsCallGoesToTheDeviceUnderAHubIDAndTheAnswerBackUnderTheJobs() {
        var t = fleet()
        connect(&t)
        list(&t)
        let (job, _) = call(&t)
        let sent = requests(t).last!
        #expect(sent["method"] == "tools/call" && sent["params"]?["arguments"]?["volume"] == 30)
        let hubID = sent["id"]!
        #expect(hubID == 4)  // after initialize and two pages
        answer(&t, hubID, result: ["content": [["type": "text", "text": "true"]], "isError": false])
        #expect(inputs(t).count == 1 && inputs(t)[0]["id"] == 7 && inputs(t)[0]["result"]?["isError"] == false)
        #expect(t.hasSubsequence(["mcp.request reason=tools/call value=4 job=\(job.raw) text=self.audio_speaker.set_volume",
                                  "mcp.answer reason=tools/call value=4 to=result job=\(job.raw)"]))
        // A second answer with the same id is unknown now.
        answer(&t, hubID, result: [:])
        #expect(inputs(t).count == 1 && t.hasSubsequence(["mcp.dropped reason=unknown-id value=4"]))
    }

    @Test func aDeviceErrorGoesBackToTheJobAsItIs() {
        var t = fleet()
        connect(&t)
        list(&t)
        _ = call(&t)
        t.feed(.deviceMCP(Self.s, ["jsonrpc": "2.0", "id": 4, "error": ["message": "Unknown tool: x"]]))
        #expect(inputs(t).last?["error"]?["message"] == "Unknown tool: x" && inputs(t).last?["id"] == 7)
        #expect(t.count("mcp.answer reason=tools/call to=error") == 1)
    }

    @Test func anUnansweredCallGivesTheJobAnErrorAndTheLateAnswerIsDropped() throws {
        var t = fleet(try CoordinatorConfig(json: JSONParser.parse(#"{"mcp_call_timeout_ms": 2000}"#)))
        connect(&t)
        list(&t)
        let (job, _) = call(&t)
        t.advanceMs(1999)
        #expect(inputs(t).isEmpty)
        t.advanceMs(1)
        #expect(inputs(t).count == 1 && inputs(t)[0]["id"] == 7)
        #expect(inputs(t)[0]["error"]?["message"] == "the device did not answer tools/call within 2 s")
        #expect(t.hasSubsequence(["mcp.timeout reason=tools/call value=4 job=\(job.raw)"]))
        // The job is still alive (its deadline counted from the call), and the late answer is dropped.
        #expect(t.c.jobKind(job) == .assistant)
        answer(&t, 4, result: ["content": []])
        #expect(inputs(t).count == 1 && t.hasSubsequence(["mcp.dropped reason=late value=4"]))
    }

    @Test func aCallAnsweredAfterTheTurnEndedIsDropped() {
        var t = fleet()
        connect(&t)
        list(&t)
        let (job, w) = call(&t)
        t.feed(.workerDone(w, job))
        answer(&t, 4, result: ["content": []])
        #expect(inputs(t).isEmpty && t.hasSubsequence(["mcp.dropped reason=job-ended value=4"]))
    }

    @Test func anUnansweredListingLeavesJobsWithoutDeviceToolsAndNeverBlocksTheTurn() {
        var t = fleet()
        connect(&t)
        answer(&t, 1, result: ["protocolVersion": "2024-11-05"])
        // The first turn starts while tools/list is outstanding: its job goes without device tools.
        t.feed(.textInput(Self.s, "hello"))
        #expect(t.assistantJob(1) != nil && assistantTools(t) == .some(nil))
        t.advanceMs(5000)
        #expect(t.hasSubsequence(["mcp.timeout reason=tools/list value=2", "mcp.listed reason=timeout value=0"]))
        answer(&t, 2, result: ["tools": [Self.volume]])
        #expect(t.hasSubsequence(["mcp.dropped reason=late value=2"]))
        t.feed(.textInput(Self.s, "hello again"))
        #expect(assistantTools(t) == .some(nil))
    }

    @Test func wrongListingsFail() {
        for bad: JSON in [["jsonrpc": "2.0", "id": 2, "error": ["message": "Failed to add tool"]],
                          ["jsonrpc": "2.0", "id": 2, "result": ["tools": "nope"]],
                          ["jsonrpc": "2.0", "id": 2, "result": ["tools": [], "nextCursor": "a"]]] {
            var t = fleet()
            connect(&t)
            answer(&t, 1, result: [:])
            t.feed(.deviceMCP(Self.s, bad))
            if bad["result"]?["nextCursor"] != nil {
                // The same cursor again would loop forever.
                answer(&t, 3, result: ["tools": [], "nextCursor": "a"])
            }
            #expect(t.count("mcp.listed") == 1 && t.count("mcp.listed reason=ok") == 0, "\(bad.serialized)")
            t.feed(.textInput(Self.s, "hello"))
            #expect(assistantTools(t) == .some(nil))
        }
    }

    @Test func malformedAndStrayMessagesAffectNobody() {
        var t = fleet()
        connect(&t)
        list(&t)
        let before = t.rejections
        t.feed(.deviceMCP(Self.s, "not an object"))
        #expect(t.rejections == before + 1 && t.hasSubsequence(["input.rejected session=s1"]))
        t.feed(.deviceMCP(Self.s, ["jsonrpc": "2.0", "result": [:]]))  // no id
        t.feed(.deviceMCP(Self.s, ["jsonrpc": "2.0", "id": 99, "result": [:]]))
        #expect(t.hasSubsequence(["mcp.dropped reason=malformed", "mcp.dropped reason=unknown-id value=99"]))
        // A notification is logged; a request from the device is refused.
        t.feed(.deviceMCP(Self.s, ["jsonrpc": "2.0", "method": "notifications/state_changed", "params": ["newState": "idle"]]))
        t.feed(.deviceMCP(Self.s, ["jsonrpc": "2.0", "id": 5, "method": "sampling/createMessage"]))
        #expect(t.count("mcp.notification") == 2)
        #expect(requests(t).last?["error"]?["code"] == -32601 && requests(t).last?["id"] == 5)
        // None of it reached a worker, and the device still works.
        #expect(inputs(t).isEmpty)
        _ = call(&t)
        answer(&t, 4, result: ["content": []])
        #expect(inputs(t).count == 1)
    }

    @Test func aJobCallingADeviceWithoutMCPGetsAnErrorAtOnce() {
        var t = fleet()
        t.feed(.deviceConnected(Self.s, DeviceInfo(deviceID: "dev1", protocolVersion: 1)))
        t.feed(.deviceHello(Self.s, DeviceHello(mcp: false)))
        #expect(requests(t).isEmpty)
        _ = call(&t)
        #expect(requests(t).isEmpty && inputs(t).count == 1 && inputs(t)[0]["error"]?["code"] == -32001)
        #expect(t.hasSubsequence(["mcp.dropped reason=no-mcp"]))
    }

    @Test func theSessionGoingAwayCancelsItsMCPTimers() {
        var t = fleet()
        connect(&t)
        list(&t)
        _ = call(&t)
        t.feed(.deviceDisconnected(Self.s, reason: "gone"))
        #expect(t.c.timerCount == t.timers.count)
        t.advanceMs(20_000)
        #expect(t.count("mcp.timeout") == 0)
    }
}
