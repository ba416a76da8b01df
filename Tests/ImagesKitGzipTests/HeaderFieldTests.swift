import Foundation
import ImagesKit
import ImagesKitGzip
import Testing

/// The optional header fields of RFC 1952 (extra, name, comment, header CRC), built with python3.
@Suite("Header fields")
struct HeaderFieldTests {
    static let payload = "b'optional header fields ' * 500"
    static let expectedPayload = Array("optional header fields ".utf8).repeated(500)

    /// python3 calls of `member(...)` that build valid members with optional fields.
    static let validHeaders: [String] = [
        "member(\(payload), name=b'disk.img')",
        "member(\(payload), comment=b'made for a test')",
        "member(\(payload), extra=b'AB\\x03\\x00xyz')",
        "member(\(payload), extra=b'')",
        "member(\(payload), fhcrc=True)",
        "member(\(payload), name=b'n' * 3000, comment=b'c' * 70000, extra=b'E' * 65535, fhcrc=True)",
    ]

    @Test("members with optional header fields decode, as gzip -t also accepts them", arguments: validHeaders)
    func optionalFieldsAreAccepted(call: String) throws {
        let member = try ExternalTool.python("out.write(\(call))")
        let directory = try TemporaryDirectory()
        let file = try directory.write(member, to: "fields.gz")
        #expect(try ExternalTool.run("gzip", ["-t", file.path]).status == 0)

        for chunking in [Chunking.whole, .fixed(1), .random(seed: 31, maximum: 100)] {
            let decoded = try decodeGzip(member, chunking: chunking)
            #expect(decoded.error == nil)
            #expect(decoded.output == Self.expectedPayload, "\(chunking)")
        }
    }

    @Test("bgzip-style blocks with BC extra fields and an empty end-of-file member decode as one stream")
    func bgzipStyleBlocksDecode() throws {
        let program = """
            data = b''.join(b'record %06d of a block-compressed file\\n' % i for i in range(6000))
            blocks = [data[i:i + 65280] for i in range(0, len(data), 65280)] + [b'']
            for block in blocks:
                out.write(member(block, extra=b'BC\\x02\\x00\\x00\\x00'))
            """
        let stream = try ExternalTool.python(program)
        let expected = (0..<6000).flatMap { index in
            Array(String(format: "record %06d of a block-compressed file\n", index).utf8)
        }

        let decoded = try decodeGzip(stream, chunking: .random(seed: 40, maximum: 9000))
        #expect(decoded.error == nil)
        #expect(decoded.memberCount == 5)
        #expect(decoded.output == expected)
    }

    @Test("a member with sync and full flush points every few kilobytes decodes")
    func flushPointsInsideOneMemberDecode() throws {
        let program = """
            data = b''.join(b'line %d of a disk image with flush points\\n' % i for i in range(20000))
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            pieces = []
            for i in range(0, len(data), 3000):
                pieces.append(c.compress(data[i:i + 3000]))
                pieces.append(c.flush(zlib.Z_SYNC_FLUSH if (i // 3000) % 2 else zlib.Z_FULL_FLUSH))
            out.write(b''.join(pieces) + c.flush())
            """
        let member = try ExternalTool.python(program)
        let expected = (0..<20000).flatMap { Array("line \($0) of a disk image with flush points\n".utf8) }

        let decoded = try decodeGzip(member, chunking: .random(seed: 41, maximum: 5000))
        #expect(decoded.error == nil)
        #expect(decoded.memberCount == 1)
        #expect(decoded.output == expected)
    }

    @Test("a wrong header CRC is corruption")
    func wrongHeaderCRCIsCorruption() throws {
        let member = try ExternalTool.python("out.write(member(b'data', name=b'x', fhcrc=True, bad_fhcrc=True))")
        let decoded = try decodeGzip(member, chunking: .fixed(1))
        #expect(decoded.errorCode == .corruptData)
        #expect((decoded.error?.cause as? ZlibError)?.message == "header crc mismatch")
        #expect(decoded.output.isEmpty)
    }

    @Test("reserved flag bits are corruption", arguments: [0x20, 0x40, 0x80])
    func reservedFlagIsCorruption(flag: Int) throws {
        let member = try ExternalTool.python("out.write(member(b'data', flags=\(flag)))")
        #expect(try decodeGzip(member).errorCode == .corruptData)
    }

    @Test("a compression method other than deflate is corruption")
    func unknownMethodIsCorruption() throws {
        let member = try ExternalTool.python("out.write(member(b'data', method=7))")
        #expect(try decodeGzip(member).errorCode == .corruptData)
    }

    @Test("every prefix of a member with all optional fields fails as truncated")
    func everyPrefixOfAllFieldsMemberIsTruncated() throws {
        let member = try ExternalTool.python(
            "out.write(member(b'hello', name=b'n.img', comment=b'note', extra=b'AB\\x01\\x00z', fhcrc=True))")
        for length in 1..<member.count {
            let decoded = try decodeGzip(Array(member.prefix(length)), chunking: .fixed(1))
            #expect(decoded.errorCode == .truncatedData, "prefix of \(length) bytes")
        }
        #expect(try decodeGzip(member).output == Array("hello".utf8))
    }

    @Test("a member whose compressed bytes hold a whole gzip member is one member")
    func magicInsideCompressedDataDoesNotSplitMembers() throws {
        let program = """
            inner = member(b'inner member ' * 40)
            out.write(member(b'head ' + inner + b' tail', level=0))
            """
        let outer = try ExternalTool.python(program)
        let inner = try ExternalTool.python("out.write(member(b'inner member ' * 40))")

        let decoded = try decodeGzip(outer, chunking: .random(seed: 4, maximum: 50))
        #expect(decoded.error == nil)
        #expect(decoded.memberCount == 1)
        #expect(decoded.output == Array("head ".utf8) + inner + Array(" tail".utf8))
    }
}
