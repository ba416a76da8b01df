import ImagesKitS3
import Testing

@Suite("S3 credentials")
struct S3CredentialsTests {
    @Test("read from the standard environment variables")
    func readFromEnvironment() {
        let credentials = S3Credentials.fromEnvironment([
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
        ])
        #expect(credentials == S3Credentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token"))
        #expect(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKID"]) == nil)
        #expect(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": ""]) == nil)
        let plain = S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        #expect(plain?.sessionToken == nil)
    }

    @Test("descriptions leave the secret out")
    func descriptionHidesSecret() {
        let credentials = S3Credentials(
            accessKeyID: "AKID", secretAccessKey: "very-secret", sessionToken: "session-token-value")
        #expect(!"\(credentials)".contains("very-secret"))
        #expect(!"\(credentials)".contains("session-token-value"))
        #expect(!String(reflecting: credentials).contains("very-secret"))
        #expect(!String(reflecting: credentials).contains("session-token-value"))
    }
}
