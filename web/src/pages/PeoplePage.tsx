export function PeoplePage() {
  return (
    <main className="page people">
      <h1>People</h1>
      <p className="empty">
        Faces grouped by person need the people API (<code>people</code>, <code>renamePerson</code>, <code>mergePeople</code>,{" "}
        <code>moveFaces</code>), which this server does not offer yet. Faces found in an asset show on its page as a
        detection track.
      </p>
    </main>
  );
}
