"""The roster file: its columns (named in French in messages), how it is read (UTF-8,
else Windows-1252 as Excel writes it) and a template to fill in."""

import csv
import io

from models.errors import InvalidInputError

COLUMNS = (
    "email",
    "name",
    "rpps",
    "specialty",
    "subspecialties",
    "capacity",
    "membership_start",
    "membership_end",
    "advanced_consultations",
)
# The columns keep their (English) names: they are the file's contract. Messages name
# each one in French beside it.
COLUMN_LABELS = {
    "email": "adresse e-mail",
    "name": "nom",
    "rpps": "RPPS",
    "specialty": "spécialité",
    "subspecialties": "sur-spécialités",
    "capacity": "capacité",
    "membership_start": "début d'adhésion",
    "membership_end": "fin d'adhésion",
    "advanced_consultations": "consultations avancées",
}
REQUIRED = ("email", "name", "specialty")
SUBSPECIALTY_SEPARATOR = "|"
MAX_LINES = 5000
# What a spreadsheet set to French writes when it is not asked for UTF-8: Excel's
# « CSV (séparateur : point-virgule) » is Windows-1252.
FALLBACK_ENCODING = "cp1252"


def column_name(column: str) -> str:
    """``capacity (capacité)``: the file's column, named in French too."""
    label = COLUMN_LABELS.get(column)
    return f"{column} ({label})" if label else column


def column_error(column: str, message: str) -> str:
    return f"Colonne {column_name(column)} : {message}"


def decode(content: bytes) -> str:
    """The file's text: UTF-8 (with or without a BOM), else Windows-1252, else refused."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode(FALLBACK_ENCODING)
    except UnicodeDecodeError:
        raise InvalidInputError(
            "Le fichier doit être un CSV encodé en UTF-8 ou en Windows-1252 (l'encodage "
            "d'Excel) : enregistrez-le de nouveau au format « CSV UTF-8 ».",
            field="file",
        ) from None


def read_rows(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """Decode the file and return (line number, cells) per data line, or raise in French."""
    text = decode(content)
    if not text.strip():
        raise InvalidInputError(
            "Le fichier est vide : la première ligne doit nommer les colonnes.", field="file"
        )
    header = text.split("\n", 1)[0]
    # Spreadsheets set to French write « ; » between cells; others write « , ».
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    names = [(name or "").strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise InvalidInputError(
            "Colonnes obligatoires absentes de la première ligne : "
            f"{', '.join(column_name(name) for name in missing)}.",
            field="file",
        )
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise InvalidInputError(
            f"Colonnes inconnues : {', '.join(unknown)} (colonnes possibles : "
            f"{', '.join(COLUMNS)}).",
            field="file",
        )
    reader.fieldnames = names
    rows = []
    try:
        for cells in reader:
            if None in cells:
                raise InvalidInputError(
                    f"Ligne {reader.line_num} : plus de cellules que de colonnes.", field="file"
                )
            values = {k: (v or "").strip() for k, v in cells.items()}
            if any(values.values()):
                rows.append((reader.line_num, values))
            if len(rows) > MAX_LINES:
                raise InvalidInputError(f"Le fichier dépasse {MAX_LINES} lignes.", field="file")
    except csv.Error as exc:
        raise InvalidInputError(
            f"Ligne {reader.line_num} : fichier CSV illisible ({exc}).", field="file"
        ) from None
    return rows


def template(specialty: str = "cardiologie", subspecialties: list[str] | None = None) -> bytes:
    """A file to fill in: the header line and one example line, for a French spreadsheet
    (« ; » between cells, a BOM so that it reads the accents as UTF-8)."""
    example = {
        "email": "anne.martin@example.org",
        "name": "Dr Anne Martin",
        "rpps": "10000000017",
        "specialty": specialty,
        "subspecialties": SUBSPECIALTY_SEPARATOR.join(subspecialties or []),
        "capacity": "4",
        "membership_start": "2026-01-01",
        "membership_end": "",
        "advanced_consultations": "non",
    }
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow([example[column] for column in COLUMNS])
    return ("\ufeff" + text.getvalue()).encode()
