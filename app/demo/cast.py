"""Who the demo ESS is made of, and what they write: fictitious people and clinical texts.

Every name is an obvious French pun (« Alex Térieur », « Sarah Croche »): nobody can
take a demo record for a real person's.
"""

import unicodedata
from dataclasses import dataclass, field
from datetime import time

from stdnum import luhn

SPECIALTIES = [
    (
        "cardiologie",
        "Cardiologie",
        [
            ("rythmologie", "Rythmologie"),
            ("insuffisance-cardiaque", "Insuffisance cardiaque"),
            ("coronaropathie", "Coronaropathie"),
            ("hta", "Hypertension artérielle"),
        ],
    ),
    ("medecine-vasculaire", "Médecine vasculaire", [("phlebologie", "Phlébologie")]),
]


@dataclass(frozen=True)
class Slot:
    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class Specialist:
    name: str
    specialty: str
    subspecialties: list[str]
    capacity: int = 5
    outreach: bool = False  # offers consultations avancées
    schedule: list[Slot] = field(default_factory=list)
    joins_after_days: int = 0  # days after the start of the history
    member_years_before: float = 1.5  # membership before the history starts
    leaves_after_days: int | None = None
    # How long they take, relative to the ESS's usual pace (1: the median).
    pace: float = 1.0


MORNINGS = [Slot(day, time(8), time(13)) for day in (0, 1, 3)]
# Office hours, and on call on weekday evenings and Saturday mornings.
EVENINGS = [Slot(day, time(8), time(22)) for day in range(5)] + [Slot(5, time(9), time(13))]

SPECIALISTS = [
    Specialist("Dr Alex Térieur", "cardiologie", ["rythmologie", "coronaropathie"], outreach=True),
    Specialist("Dr Alain Térieur", "cardiologie", ["rythmologie"], schedule=EVENINGS),
    Specialist("Dr Sarah Croche", "cardiologie", ["insuffisance-cardiaque"], outreach=True),
    Specialist(
        "Dr Paul Ochon", "cardiologie", ["insuffisance-cardiaque", "hta"], capacity=10, pace=1.4
    ),
    Specialist("Dr Anne Onyme", "cardiologie", ["coronaropathie"]),
    Specialist("Dr Guy Mauve", "cardiologie", ["coronaropathie", "hta"], capacity=4),
    Specialist("Dr Lara Tatouille", "cardiologie", ["hta"], schedule=MORNINGS, capacity=3),
    Specialist("Dr Jean Sérien", "cardiologie", ["rythmologie", "insuffisance-cardiaque"]),
    Specialist("Dr Maud Erne", "cardiologie", [], pace=0.8),
    Specialist("Dr Marc Assin", "cardiologie", ["coronaropathie"], member_years_before=0.4),
    Specialist("Dr Élie Coptère", "cardiologie", ["insuffisance-cardiaque"], pace=1.3),
    Specialist("Dr Jerry Kan", "cardiologie", ["hta", "rythmologie"], joins_after_days=120),
    Specialist("Dr Sam Suffit", "cardiologie", ["rythmologie"], leaves_after_days=250, pace=1.2),
    Specialist("Dr Ella Stique", "medecine-vasculaire", ["phlebologie"], outreach=True),
]

COORDINATOR = "Coordination ESS Cardio (démo)"
# The accounts ``serve --demo`` suggests, one per role (``app.demo.acts`` fills their
# screens in the last days of the year).
SHOWCASE = {"specialist": "Dr Paul Ochon", "requester": "Dr Justin Ptipeu"}

# (name, treating physician, weight: how many requests they send, relatively)
REQUESTERS = [
    ("Dr Justin Ptipeu", True, 9),
    ("Dr Gérard Menvussa", True, 8),
    ("Dr Jean Registre", True, 7),
    ("Dr Sacha Touille", True, 6),
    ("Dr Camille Honnête", True, 6),
    ("Dr Annie Versaire", True, 5),
    ("Dr Aude Javel", True, 5),
    ("Dr Paul Emploi", True, 4),
    ("Dr Lucie Fer", True, 4),
    ("Dr Teddy Ficile", True, 4),
    ("Dr Yves Remord", True, 3),
    ("Dr Harry Cover", True, 3),
    ("Dr Otto Mobile", True, 3),
    ("Dr Henri Golo", True, 3),
    ("Dr Pierre Kiroul", True, 3),
    ("Dr Oscar Got", True, 2),
    ("Dr Laurent Outan", True, 2),
    ("Dr Agathe Zeblouse", True, 2),
    ("Dr Alain Provist", False, 3),
    ("Dr Eva Porée", True, 2),
    ("Dr Rémi Fasol", True, 2),
    ("Dr Max Imom", True, 2),
    ("Dr Mehdi Cament", True, 2),
    ("Dr Judas Bricot", True, 1),
    ("Dr Lorie Zon", False, 2),
    ("Dr Bill Boquet", True, 1),
    ("Dr Jean Peuplus", False, 2),
    ("Dr Jacques Ouzi", True, 1),
    ("Dr Cécile Encieux", True, 1),
    ("Dr Larry Bambelle", False, 1),
    ("Marie Golade, IPA", False, 3),
    ("Aimée Dicale, IPA", False, 2),
    ("Emma Toume, sage-femme", False, 1),
    ("Dr Medhi Taission", False, 1),
]

PATIENT_FIRST_NAMES = {
    "F": "Jeanne Louise Marie Yvette Simone Paulette Monique Colette Nadia Fatima Sylvie "
    "Chantal Nathalie Isabelle Sandrine Céline Aurélie Julie Léa Chloé Inès Odette Renée Lucienne",
    "M": "Louis Marcel René Robert André Bernard Michel Jacques Alain Patrick Philippe Karim "
    "Christophe Stéphane Nicolas Julien Thomas Kevin Hugo Lucas Yacine Gaston Lucien Raymond",
}
# Last names that cannot be anyone's: every patient of the demo is « Exemple », « Fictif »…
PATIENT_LAST_NAMES = (
    "Exemple Fictif Essai Témoin Modèle Démo Maquette Factice Prototype Spécimen Échantillon "
    "Bidon Lambda Test Figurant Doublure Simulé Imaginaire Inventé Supposé"
).split()


def demo_rpps(number: int) -> str:
    """Return a well-formed RPPS (Luhn key) for demo account ``number``."""
    body = f"1000{number:06d}"
    return body + luhn.calc_check_digit(body)


def email(name: str, domain: str) -> str:
    plain = unicodedata.normalize("NFKD", name.split(",")[0]).encode("ascii", "ignore").decode()
    parts = [p for p in plain.lower().replace("-", " ").split() if p != "dr"]
    return f"{parts[0]}.{''.join(parts[1:])}@{domain}"


# Under ``.example`` (RFC 2606): no demo address can ever be someone's mailbox.
SPECIALIST_DOMAIN = "ess-cardio.example"
REQUESTER_DOMAIN = "cabinet.example"
DEMO_DOMAINS = (SPECIALIST_DOMAIN, REQUESTER_DOMAIN)

QUESTIONS = {
    "rythmologie": [
        "Palpitations depuis {n} semaines, ECG joint : FA paroxystique ? Faut-il anticoaguler ?",
        "Patient de {age} ans, FA permanente sous AOD, fréquence à 110/min au repos : "
        "majorer le bêtabloquant ou autre stratégie ?",
        "Bloc de branche gauche découvert à l'ECG systématique, asymptomatique : "
        "quel bilan avant une chirurgie programmée ?",
        "Malaises brefs à l'effort, Holter de 24 h sans particularité : faut-il un "
        "enregistreur implantable ?",
    ],
    "insuffisance-cardiaque": [
        "Dyspnée d'effort croissante depuis {n} semaines, NT-proBNP à 1 800 : "
        "adaptation du traitement diurétique en attendant la consultation ?",
        "Insuffisance cardiaque à FEVG altérée, créatinine en hausse après introduction "
        "du sacubitril/valsartan : poursuivre ?",
        "Œdèmes des membres inférieurs et prise de 3 kg en une semaine chez un patient "
        "de {age} ans : hospitalisation ou ajustement en ville ?",
    ],
    "coronaropathie": [
        "Douleur thoracique atypique à l'effort, facteurs de risque multiples : "
        "quelle exploration en première intention ?",
        "Double antiagrégation depuis {n} mois après stent : peut-on arrêter le "
        "clopidogrel avant une extraction dentaire ?",
        "Angor stable sous traitement, LDL à 1,2 g/L sous statine : intensifier ?",
    ],
    "hta": [
        "HTA résistante sous trithérapie, automesure à 150/95 : bilan d'HTA secondaire ?",
        "Patient de {age} ans, pression artérielle à 170/100 découverte fortuitement, "
        "pas de signe de gravité : quel traitement initial ?",
        "Hypotension orthostatique sous quadrithérapie : par quoi commencer la décroissance ?",
    ],
    None: [
        "Souffle systolique découvert chez un patient de {age} ans : échographie urgente "
        "ou programmée ?",
        "Bilan cardiologique avant reprise du sport chez un patient de {age} ans, "
        "antécédent familial de mort subite : que proposer ?",
    ],
    "phlebologie": [
        "Varices symptomatiques avec œdème vespéral : indication d'un écho-doppler ?",
        "Suspicion de thrombose veineuse superficielle du mollet : anticoagulation ?",
        "Ulcère de jambe traînant depuis {n} semaines : bilan vasculaire à prévoir ?",
    ],
}

ANSWERS = {
    "advice": [
        "Pas d'argument pour une cause cardiaque grave. Je propose d'adapter le traitement "
        "comme suit et de réévaluer dans {n} semaines ; recontactez-moi si aggravation.",
        "Le tableau est rassurant. Poursuivre le traitement actuel, contrôle biologique "
        "dans un mois ; pas d'indication à une consultation spécialisée pour l'instant.",
        "Je vous propose de majorer la posologie progressivement ; l'ECG joint ne montre "
        "pas de trouble conductif. Nouvel avis si la tolérance est mauvaise.",
    ],
    "consultation": [
        "Une consultation est nécessaire pour compléter le bilan (échographie). "
        "Rendez-vous proposé au cabinet ; d'ici là, poursuivre le traitement.",
        "Je souhaite voir le patient en consultation avec un Holter ; le secrétariat "
        "lui propose le rendez-vous indiqué.",
    ],
    "advanced_consultation": [
        "Je verrai le patient lors de ma consultation avancée à la maison de santé, "
        "à la date indiquée ; apporter les derniers bilans.",
    ],
    "hospital_referral": [
        "Le tableau justifie un avis hospitalier rapide : j'ai prévenu l'équipe de "
        "cardiologie de l'hôpital, qui convoquera le patient.",
        "Orientation vers l'hôpital de jour pour une coronarographie ; courrier joint.",
    ],
}

INFO_QUESTIONS = [
    "Pouvez-vous me transmettre le dernier ECG et la liste complète des traitements ?",
    "Avez-vous un bilan biologique récent (créatinine, kaliémie, NT-proBNP) ?",
    "Quelle est la pression artérielle en automesure sur les trois derniers jours ?",
    "Le patient a-t-il déjà eu une échographie cardiaque ? Si oui, pouvez-vous la joindre ?",
]
INFO_REPLIES = [
    "Voici l'ECG d'hier et l'ordonnance en cours (pièces jointes).",
    "Bilan du mois dernier : créatinine 98 µmol/L, kaliémie 4,3 mmol/L. Pas d'autre examen.",
    "Automesure : 148/92, 151/95, 146/90 en moyenne sur trois jours.",
    "Pas d'échographie à ma connaissance ; le patient n'a jamais vu de cardiologue.",
]
FOLLOW_UPS = [
    (
        "Merci pour votre réponse rapide. Le patient demande s'il peut reprendre le vélo.",
        "Oui, progressivement, en restant sous le seuil d'essoufflement.",
    ),
    (
        "Le patient n'a pas pu se libérer pour le rendez-vous proposé : y a-t-il une autre date ?",
        "Le secrétariat va lui proposer un autre créneau la semaine suivante.",
    ),
    ("Je joins le compte rendu de biologie reçu ce matin.", "Merci, rien qui modifie mon avis."),
]
CLOSE_COMMENTS = [
    "Réponse claire, le patient est rassuré.",
    "Très utile, hospitalisation évitée.",
    "Délai un peu long mais avis pertinent.",
]
