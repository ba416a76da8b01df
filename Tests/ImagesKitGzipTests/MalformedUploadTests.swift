import Foundation
import ImagesKit
import ImagesKitGzip
import Testing

/// Every fault kind of the gzip table in SCENARIOS.md, built from a file the real gzip made.
@Suite("Malformed uploads")
struct MalformedUploadTests {
    /// A file gzip made, with a file name in its header, and the data it holds.
    struct Fixture {
        var member: [UInt8]
        var original: [UInt8]
        /// Bytes of the header: the fixed ten and the zero-terminated name "disk.img".
        var headerCount: Int { 10 + "disk.img".utf8.count + 1 }

        init() throws {
            let directory = try TemporaryDirectory()
            original = Payload.text(200_000)
            let file = try directory.write(original, to: "disk.img")
            member = try ExternalTool.output("gzip", ["-6", "-c", file.path])
        }
    }

    enum Fault: String, CaseIterable, Sendable {
        case truncatedInMagic, truncatedInFixedHeader, truncatedInFileName, headerOnly
        case truncatedInDeflateData, truncatedBeforeTrailer, truncatedInTrailer, truncatedInSecondMember
        case loneMagicByteAfterMember, flippedCRC, wrongLength, flippedDeflateByte
        case garbageAfterMember, halfMagicAfterMember, nonZeroAfterPadding, secondMemberWithReservedFlag
        case emptyFile, oneByteThatIsNotGzip

        func input(from fixture: Fixture) -> [UInt8] {
            let member = fixture.member
            switch self {
            case .truncatedInMagic: return [0x1f]
            case .truncatedInFixedHeader: return Array(member.prefix(5))
            case .truncatedInFileName: return Array(member.prefix(14))
            case .headerOnly: return Array(member.prefix(fixture.headerCount))
            case .truncatedInDeflateData: return Array(member.prefix(member.count / 2))
            case .truncatedBeforeTrailer: return Array(member.dropLast(8))
            case .truncatedInTrailer: return Array(member.dropLast(3))
            case .truncatedInSecondMember: return member + member.prefix(member.count / 3)
            case .loneMagicByteAfterMember: return member + [0x1f]
            case .flippedCRC: return flipping(member, at: member.count - 8)
            case .wrongLength: return flipping(member, at: member.count - 1)
            case .flippedDeflateByte: return flipping(member, at: member.count / 2)
            case .garbageAfterMember: return member + Array("garbage!!!".utf8)
            case .halfMagicAfterMember: return member + [0x1f, 0x00]
            case .nonZeroAfterPadding: return member + Payload.zeros(512) + [0x01]
            case .secondMemberWithReservedFlag: return member + flipping(member, at: 3, mask: 0x80)
            case .emptyFile: return []
            case .oneByteThatIsNotGzip: return [0x78]
            }
        }

        var expectedCode: ImagesKitError.Code {
            switch self {
            case .truncatedInMagic, .truncatedInFixedHeader, .truncatedInFileName, .headerOnly,
                .truncatedInDeflateData, .truncatedBeforeTrailer, .truncatedInTrailer, .truncatedInSecondMember,
                .loneMagicByteAfterMember:
                .truncatedData
            case .flippedCRC, .wrongLength, .flippedDeflateByte, .secondMemberWithReservedFlag:
                .corruptData
            case .garbageAfterMember, .halfMagicAfterMember, .nonZeroAfterPadding:
                .trailingData
            case .emptyFile:
                .emptyInput
            case .oneByteThatIsNotGzip:
                .unsupportedFormat
            }
        }

        private func flipping(_ bytes: [UInt8], at index: Int, mask: UInt8 = 0xff) -> [UInt8] {
            var copy = bytes
            copy[index] ^= mask
            return copy
        }
    }

    @Test("each fault is rejected with its own error code, whole and byte by byte", arguments: Fault.allCases)
    func faultIsRejectedWithItsCode(fault: Fault) throws {
        let fixture = try Fixture()
        let input = fault.input(from: fixture)
        let twice = fixture.original + fixture.original
        for chunking in [Chunking.whole, .fixed(1), .random(seed: 77, maximum: 4000)] {
            let decoded = try decodeGzip(input, chunking: chunking)
            #expect(decoded.errorCode == fault.expectedCode, "\(chunking)")
            if fault != .flippedDeflateByte {
                #expect(decoded.output == Array(twice.prefix(decoded.output.count)), "\(chunking)")
            }
        }
    }

    @Test("truncated data fails even after output came out")
    func truncationAfterOutputIsNotSuccess() throws {
        let fixture = try Fixture()
        let decoded = try decodeGzip(Fault.truncatedInDeflateData.input(from: fixture))
        #expect(decoded.errorCode == .truncatedData)
        #expect(decoded.outputByteCount > 0)
        #expect(decoded.error?.message.contains("truncated") == true)
        #expect(decoded.error?.context["offset"] == String(fixture.member.count / 2))
    }

    @Test(
        "zero padding after the last member is accepted and left out of the stream size",
        arguments: [1, 3, 512, 70_000])
    func zeroPaddingIsAccepted(paddingCount: Int) throws {
        let fixture = try Fixture()
        let padded = fixture.member + fixture.member + Payload.zeros(paddingCount)
        for chunking in [Chunking.whole, .random(seed: 5, maximum: 300)] {
            let decoded = try decodeGzip(padded, chunking: chunking)
            #expect(decoded.error == nil)
            #expect(decoded.output == fixture.original + fixture.original)
            #expect(decoded.streamByteCount == UInt64(fixture.member.count * 2))
        }
    }

    @Test("trailing bytes are located at the end of the last member")
    func trailingDataReportsItsOffset() throws {
        let fixture = try Fixture()
        let decoded = try decodeGzip(Fault.garbageAfterMember.input(from: fixture), chunking: .fixed(3))
        #expect(decoded.errorCode == .trailingData)
        #expect(decoded.error?.context["offset"] == String(fixture.member.count))
        #expect(decoded.output == fixture.original)
        #expect(decoded.streamByteCount == UInt64(fixture.member.count))
    }

    @Test("a wrong CRC-32 names the check and carries zlib's code")
    func wrongChecksumCarriesZlibCause() throws {
        let fixture = try Fixture()
        let decoded = try decodeGzip(Fault.flippedCRC.input(from: fixture))
        let cause = try #require(decoded.error?.cause as? ZlibError)
        #expect(cause.code == -3)
        #expect(cause.codeName == "Z_DATA_ERROR")
        #expect(cause.message == "incorrect data check")
        #expect(decoded.error?.message.contains("incorrect data check") == true)
        #expect(decoded.error?.message.contains("upload the file again") == true)
    }

    @Test("a wrong length in the trailer is corruption")
    func wrongLengthIsCorruption() throws {
        let fixture = try Fixture()
        let decoded = try decodeGzip(Fault.wrongLength.input(from: fixture))
        #expect((decoded.error?.cause as? ZlibError)?.message == "incorrect length check")
    }
}
