//===- frontend/Parser.h - builds the syntax tree of a .grad file ---------===//
//
// Recursive descent, one token of lookahead. On a syntax error the parser
// reports it, skips to the end of the statement, and carries on, so one run
// shows every syntax error in the file.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"
#include "frontend/Lexer.h"

namespace gradc {

class Parser {
public:
  Parser(unsigned bufferId, DiagEngine &diag);

  /// Parses the whole buffer. Always returns a program (possibly partial);
  /// check diag.hasErrors().
  std::unique_ptr<ast::Program> parseProgram();
  /// Parses the whole buffer as one expression (a -D value); null after
  /// reporting when it is not one.
  ast::ExprPtr parseValue();

private:
  // Tokens.
  void advance();
  bool consume(Tok k);
  bool expect(Tok k, llvm::StringRef what);
  /// expect() for the bracket that closes the one at `open`: when it is
  /// missing, a note points at the opening one ("to match this '('").
  bool expectClosing(Tok k, llvm::StringRef what, llvm::SMLoc open);
  /// The note of expectClosing, when an error was said since there were
  /// `errorsBefore`.
  void noteOpening(llvm::SMLoc open, unsigned errorsBefore);
  std::string commentHint() const;
  std::string dotIndexHint() const;
  /// "; 'and' is written &&" where Python's words stand for an operator.
  std::string wordOperatorHint() const;
  llvm::SMRange rangeFrom(llvm::SMLoc start) const;
  void error(llvm::SMLoc loc, const llvm::Twine &msg);
  void skipNewlines();
  /// Reads past newlines if `k` follows them (`else` or `{` on the next
  /// line): no statement begins with either, so it is unambiguous.
  void skipNewlinesBefore(Tok k);
  void syncToStatementEnd();
  bool atStatementEnd() const;

  // Declarations and statements.
  std::unique_ptr<ast::ConstStmt> parseConst();
  std::unique_ptr<ast::FnDecl> parseFn();
  std::unique_ptr<ast::ModelDecl> parseModel();
  bool parseBlock(ast::Block &out);
  void parseStatementInto(ast::Block &out);
  ast::StmtPtr parseStatement();
  bool parseType(ast::TypeExpr &out);
  bool parseArgs(std::vector<ast::Arg> &out, llvm::SMLoc open); // after the '(' at open; consumes ')'

  // Expressions, lowest precedence first.
  ast::ExprPtr parseExpr();
  ast::ExprPtr parseBinary(int minPrec);
  ast::ExprPtr parseUnary();
  ast::ExprPtr parsePostfix(ast::ExprPtr base);
  ast::ExprPtr parsePrimary();
  bool parseIndexItem(ast::IndexItem &item);
  /// `e`, or null after an error when its tree is taller than kMaxDepth.
  ast::ExprPtr bounded(ast::ExprPtr e, llvm::SMLoc at);

  /// Expressions nested or chained deeper than this are refused, so neither
  /// this parser nor anything that walks the tree after it (the AST dump,
  /// Sema, destructors) can run out of stack on hostile input.
  static constexpr unsigned kMaxDepth = 256;
  unsigned depth = 0;
  /// The same for blocks: `if`, `for`, `data` and `else if` (which nests
  /// the next `if` in the tree) nest at most this deep.
  static constexpr unsigned kMaxBlockDepth = 64;
  unsigned blockDepth = 0;
  /// Open ( and [ around the current token: newlines inside them continue
  /// the statement. Error recovery resets it.
  int brackets = 0;

  DiagEngine &diag;
  bool inFunction = false; // parsing a fn's body (a return outside one is Sema's error)
  /// `fn` or `model` at the start of a line: a definition begins, and any
  /// block still open lacks its '}'.
  bool definitionStartsLine() const;
  llvm::StringRef buffer;
  Lexer lexer;
  Token tok;
  llvm::SMLoc prevEnd; // end of the last consumed token
  llvm::SMLoc lastClose; // the '}' that ended the last fn or model, for a stray one's note
};

/// The value of a string literal as written, quotes included: "a\tb" is
/// a, a tab and b. -D values in quotes read the same way.
std::string stringLiteralValue(llvm::StringRef quoted);

} // namespace gradc
